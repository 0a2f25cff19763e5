"""The dispatcher's decisions: who runs what, and who is alive."""

from __future__ import annotations

from sensor.fleet.jobs.dispatch import Liveness, Moves, plan_moves
from sensor.fleet.jobs.records import Assignment, WorkerHeartbeat


def test_jobs_go_to_the_live_worker_running_the_fewest_ties_by_name() -> None:
    moves = plan_moves(["a", "b", "c", "d", "e", "f"], ["w1", "w2", "w3"], {}, now=5.0)
    assert moves == Moves(
        [],
        [
            Assignment("a", "w1", 5.0),
            Assignment("b", "w2", 5.0),
            Assignment("c", "w3", 5.0),
            Assignment("d", "w1", 5.0),
            Assignment("e", "w2", 5.0),
            Assignment("f", "w3", 5.0),
        ],
    )


def test_a_dead_workers_jobs_are_dropped_and_given_to_the_live_ones() -> None:
    assignments = {job: Assignment(job, worker, 1.0) for job, worker in [("a", "w1"), ("b", "w2"), ("c", "w3")]}
    moves = plan_moves(["a", "b", "c"], ["w1", "w3"], assignments, now=9.0)
    assert moves == Moves(["b"], [Assignment("b", "w1", 9.0)])


def test_a_live_workers_jobs_stay_where_they_are_and_new_ones_fill_the_newcomer() -> None:
    assignments = {job: Assignment(job, "w1", 1.0) for job in ("a", "b", "c")}
    moves = plan_moves(["a", "b", "c", "d", "e"], ["w1", "w2"], assignments, now=9.0)
    assert moves == Moves([], [Assignment("d", "w2", 9.0), Assignment("e", "w2", 9.0)])


def test_a_removed_jobs_assignment_is_dropped_and_nothing_goes_nowhere() -> None:
    assignments = {"gone": Assignment("gone", "w1", 1.0), "kept": Assignment("kept", "w1", 1.0)}
    assert plan_moves(["kept"], ["w1"], assignments, now=2.0) == Moves(["gone"], [])
    assert plan_moves(["new"], [], {}, now=2.0) == Moves([], [])


def beat(name: str, at: float, stopped: bool = False) -> WorkerHeartbeat:
    return WorkerHeartbeat(name, "host", 1, "0", 0.0, at, heartbeat_s=1.0, expiry_s=3.0, stopped=stopped)


def test_a_worker_is_live_while_its_heartbeat_keeps_changing_on_the_dispatchers_clock() -> None:
    clock = [100.0]
    liveness = Liveness(lambda: clock[0])
    assert liveness.observe({"w1": (1, beat("w1", 1000.0)), "w2": (1, beat("w2", 1000.0))}, 1000.0) == ["w1", "w2"]
    clock[0] = 102.5
    assert liveness.observe({"w1": (2, beat("w1", 1002.0)), "w2": (1, beat("w2", 1000.0))}, 1002.5) == ["w1", "w2"]
    clock[0] = 103.5  # w2's revision has not changed for 3.5s: past its 3s expiry, whatever its clock says
    assert liveness.observe({"w1": (3, beat("w1", 9999.0)), "w2": (1, beat("w2", 9999.0))}, 1003.5) == ["w1"]


def test_a_new_dispatcher_takes_a_heartbeat_as_old_as_it_says_and_a_stopped_worker_as_dead() -> None:
    liveness = Liveness(lambda: 50.0)
    workers = {
        "fresh": (7, beat("fresh", 999.0)),
        "stale": (4, beat("stale", 900.0)),
        "stopped": (9, beat("stopped", 999.5, stopped=True)),
    }
    assert liveness.observe(workers, wall_now=1000.0) == ["fresh"]
