"""Event kinds, one module each: what is particular to a kind, from its payload to its printed line.

A module per payload (per member of TelemetryEvent's ``event`` oneof): ``process`` (the fork, exec,
exit and credentials kinds, which share the flat ProcessEvent message), ``container``, ``file``,
``lost`` and ``ticker``. Each holds its payload class, how a kernel record becomes that payload,
its protobuf and JSON encodings, its compact line and its filter fields, and exports them as one
:class:`~sensor.telemetry.kinds.kind.PayloadKind`. :mod:`sensor.telemetry.kinds.registry` lists them;
the builder, the encoders, the printer and the subscription checker find kinds only there.

Adding a kind: its record in ``bpf/sensor.h`` and ``sensor/kernel/records.py``, its BPF program,
its message in ``protos/``, a module here, and one line in the registry.
"""
