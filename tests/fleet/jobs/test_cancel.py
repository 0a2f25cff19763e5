"""A worker's tasks end when it stops, even one that swallowed its first cancellation (as
asyncio.wait_for does on Python 3.11 when the cancellation lands as its inner future completes)."""

from __future__ import annotations

import asyncio

from sensor.fleet.jobs.worker import cancel_and_wait


def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(True)  # goes on, as after a swallowed cancellation
        await asyncio.sleep(3600)

    async def main() -> list[bool]:
        tasks = [asyncio.ensure_future(stubborn()), asyncio.ensure_future(asyncio.sleep(3600))]
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_and_wait(tasks), 10)
        return [task.cancelled() for task in tasks]

    assert asyncio.run(main()) == [True, True]
    assert swallowed == [True]


def test_tasks_already_ended_with_an_error_are_waited_for_quietly() -> None:
    async def failing() -> None:
        raise RuntimeError("job failed")

    async def main() -> bool:
        task = asyncio.ensure_future(failing())
        await asyncio.sleep(0)
        await cancel_and_wait([task])
        return task.done() and not task.cancelled()

    assert asyncio.run(main())
