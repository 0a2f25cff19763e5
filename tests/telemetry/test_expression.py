"""The filter expression language: what each construct means, what each mistake says, and that no input crashes it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensor.kernel.records import Creds
from sensor.telemetry.event_fields import Field
from sensor.telemetry.events import TelemetryEvent
from sensor.telemetry.expression import FilterError, compile_expression
from sensor.telemetry.kinds.process import ProcessEventType, ProcessPayload, process_fields

EXEC_FIELDS = process_fields(ProcessEventType.EXEC)
# Pieces of valid and invalid expressions, glued at random by the fuzz test.
TOKEN_SOUP = [*"()&=!<>\"'\\ -_.*x0159aAbfLIKENOTDRu", "uid", "comm", " AND ", " OR ", " NOT ", " LIKE ", "0x", "=="]
FORK_FIELDS = process_fields(ProcessEventType.FORK)


def exec_event(
    filename: str = "/usr/bin/curl", argv: tuple[str, ...] = ("curl", "-s", "x"), uid: int = 1000
) -> TelemetryEvent:
    return TelemetryEvent(
        sensor_id="s",
        sensor_sequence_number=1,
        sensor_monotime_nanos=1,
        payload=ProcessPayload(ProcessEventType.EXEC, exec_filename=filename, exec_command_line=list(argv)),
        process_tgid=42,
        parent_pid=1,
        credentials=Creds(uid, 100, uid, 100, uid, 100, uid, 100),
        comm="curl",
        cwd="/home/u",
        container_name="web-1",
    )


def fork_event(flags: int) -> TelemetryEvent:
    return TelemetryEvent(
        sensor_id="s",
        sensor_sequence_number=1,
        sensor_monotime_nanos=1,
        payload=ProcessPayload(ProcessEventType.FORK, fork_clone_flags=flags, fork_thread=bool(flags & 0x10000)),
        credentials=Creds(0, 0, 0, 0, 0, 0, 0, 0),
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('exec_filename == "/usr/bin/curl"', True),
        ('exec_filename != "/usr/bin/curl"', False),
        ("exec_filename == '/usr/bin/curl'", True),
        ('exec_filename LIKE "*/curl"', True),
        ('exec_filename LIKE "/usr/*"', True),
        ('exec_filename LIKE "/bin/*"', False),
        ('exec_filename NOT LIKE "/bin/*"', True),
        ('exec_filename like "*CURL"', False),  # keywords ignore case, patterns do not
        ('exec_command_line LIKE "curl -s *"', True),
        ('exec_command_line == "curl -s x"', True),
        ("uid == 1000 AND pid == 42", True),
        ("uid == 0 OR ppid == 1", True),
        ("uid < 1000", False),
        ("uid <= 1000", True),
        ("uid > 999 AND uid >= 1000", True),
        ("NOT uid == 0", True),
        ("NOT (uid == 1000 OR pid == 1)", False),
        ("uid == 0x3e8", True),
        ("uid == -1", False),
        ('comm == "curl" AND (cwd == "/" OR cwd LIKE "/home/*")', True),
        ('container_name LIKE "web-*" and not snapshot', True),
        ("snapshot == false", True),
        ("uid == 1000 AND pid == 42 OR uid == 5", True),  # AND binds tighter than OR
        ("uid == 5 AND pid == 42 OR uid == 1000", True),
        ("uid == 5 AND (pid == 42 OR uid == 1000)", False),
        (r'exec_filename == "/usr/bin/curl\\"', False),
    ],
)
def test_expression_on_an_exec_event(expression: str, expected: bool) -> None:
    assert compile_expression(expression, EXEC_FIELDS)(exec_event()) is expected


@pytest.mark.parametrize(
    ("expression", "flags", "expected"),
    [
        ("fork_clone_flags & 0x10000", 0x10000 | 0x11, True),
        ("fork_clone_flags & 0x10000", 0x11, False),
        ("fork_clone_flags & 0xff == 0x11", 0x10011, True),
        ("fork_clone_flags & 0xff != 0x11", 0x10011, False),
        ("fork_thread", 0x10000, True),
        ("NOT fork_thread", 0x10000, False),
        ("fork_thread == true", 0x11, False),
    ],
)
def test_bitmask_and_boolean_tests_on_a_fork_event(expression: str, flags: int, expected: bool) -> None:
    assert compile_expression(expression, FORK_FIELDS)(fork_event(flags)) is expected


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ('exec_flename == "x"', "column 1: unknown field 'exec_flename' (did you mean 'exec_filename'?)"),
        (
            'uid == 0 AND exec_flename == "/bin/sh"',
            "column 14: unknown field 'exec_flename' (did you mean 'exec_filename'?)",
        ),
        ("", "column 1: empty expression"),
        ("   ", "column 1: empty expression"),
        ("uid = 0", "column 5: unexpected character '=' (equality is '==')"),
        ("uid == 0 || pid == 1", "column 10: unexpected character '|' (use OR)"),
        ('uid == "0"', "column 8: 'uid' is an integer; compare it with a number, not string '0'"),
        ("comm == 5", "column 9: 'comm' is a string; compare it with \"text\", not integer 5"),
        ('comm < "b"', "column 1: '<' needs an integer field; 'comm' is a string"),
        ("uid LIKE '1*'", "column 1: LIKE needs a string field; 'uid' is an integer"),
        ("comm & 1", "column 1: '&' needs an integer field; 'comm' is a string"),
        ("uid", "column 1: 'uid' is an integer, not a condition: compare it (e.g. uid == ...)"),
        ("(uid == 0", "column 10: expected ')' to close the '(' at column 1, found the end of the expression"),
        ("uid == 0)", "column 9: expected AND, OR or the end, found ')'"),
        ("uid == 0 AND", "column 13: expected a field name, NOT or '(', found the end of the expression"),
        ("uid ==", "column 7: expected a value after '==', found the end of the expression"),
        ('comm == "abc', "column 9: string not closed"),
        (r'comm == "a\q"', "column 11: unknown escape in string (known: \\n \\t \\\\ \\\" \\' \\0)"),
        ("0 == uid", "column 1: expected a field name, NOT or '(', found integer 0"),
        ("snapshot == 1", "column 13: 'snapshot' is a boolean; compare it with true or false, not integer 1"),
        ("(" * 70 + "uid == 0" + ")" * 70, "column 65: nested deeper than 64 levels"),
        ("uid == 1" + " OR uid == 1" * 400, "column 4097: expression longer than 4096 characters"),
    ],
)
def test_a_bad_expression_says_what_and_where(expression: str, error: str) -> None:
    with pytest.raises(FilterError) as raised:
        compile_expression(expression, EXEC_FIELDS)
    assert str(raised.value) == error


def test_a_field_of_another_type_is_unknown_on_this_type() -> None:
    with pytest.raises(FilterError) as raised:
        compile_expression("exit_code == 0", EXEC_FIELDS)
    assert str(raised.value) == "column 1: unknown field 'exit_code'"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKEN_SOUP), max_size=30).map("".join))
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        predicate = compile_expression(text, EXEC_FIELDS)
    except FilterError:
        return
    assert predicate(exec_event()) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_no_unicode_input_crashes_the_parser(text: str) -> None:
    try:
        compile_expression(text, EXEC_FIELDS)
    except FilterError as error:
        assert error.column >= 1


# Generated expressions are checked against a direct interpretation of the same tree.
FIELDS: dict[str, Field] = {
    "uid": EXEC_FIELDS["uid"],
    "comm": EXEC_FIELDS["comm"],
    "exec_filename": EXEC_FIELDS["exec_filename"],
}
VALUES: dict[str, Any] = {"uid": 1000, "comm": "curl", "exec_filename": "/usr/bin/curl"}
Tree = tuple[Any, ...]


def _leaf() -> st.SearchStrategy[Tree]:
    ints = st.tuples(
        st.just("int"),
        st.sampled_from(["uid"]),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        st.sampled_from([0, 999, 1000, 1001]),
    )
    strs = st.tuples(
        st.just("str"),
        st.sampled_from(["comm", "exec_filename"]),
        st.sampled_from(["==", "!="]),
        st.sampled_from(["curl", "/usr/bin/curl", "sh", "'q\"uote"]),
    )
    likes = st.tuples(
        st.just("like"),
        st.sampled_from(["comm", "exec_filename"]),
        st.sampled_from(["*", "cu*", "*/curl", "*url*", "c*l", "x*"]),
    )
    return st.one_of(ints, strs, likes)


TREES = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=12,
)


def _render(tree: Tree) -> str:
    kind = tree[0]
    if kind == "int":
        return f"{tree[1]} {tree[2]} {tree[3]}"
    if kind == "str":
        return f"{tree[1]} {tree[2]} {_quote(tree[3])}"
    if kind == "like":
        return f"{tree[1]} LIKE {_quote(tree[2])}"
    if kind == "not":
        return f"NOT ({_render(tree[1])})"
    return f"({_render(tree[1])}) {kind.upper()} ({_render(tree[2])})"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _interpret(tree: Tree) -> bool:
    kind = tree[0]
    if kind in ("int", "str"):
        left, op, right = VALUES[tree[1]], tree[2], tree[3]
        return bool({"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                     ">": left > right, ">=": left >= right}[op])  # fmt: skip
    if kind == "like":
        return re.fullmatch(".*".join(map(re.escape, tree[2].split("*"))), VALUES[tree[1]]) is not None
    if kind == "not":
        return not _interpret(tree[1])
    if kind == "and":
        return _interpret(tree[1]) and _interpret(tree[2])
    return _interpret(tree[1]) or _interpret(tree[2])


@settings(max_examples=300, deadline=None)
@given(TREES)
def test_compiled_expressions_agree_with_a_direct_interpretation(tree: Tree) -> None:
    text = _render(tree)
    assert compile_expression(text, FIELDS)(exec_event()) is _interpret(tree), text
