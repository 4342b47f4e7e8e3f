"""Pipecat side of the runtime comparison: one frame across six forwarding processors.

The same measurement as the baseline of `bench/src/bin/pipeline_turn.rs`: a system frame is
queued at the head of a pipeline of six processors that only forward it, and the time until it
reaches the sink is taken, 2,000 times. Run by `scripts/bench-pipecat`, which prints the ratio
against vox's figure from the same command.
"""

import asyncio
import time

from pipecat.frames.frames import EndFrame, SystemFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from common import quiet_logs

HOPS = 2000


class Probe(SystemFrame):
    pass


class Forward(FrameProcessor):
    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class Sink(FrameProcessor):
    def __init__(self):
        super().__init__()
        self.arrived: asyncio.Future | None = None

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if isinstance(frame, Probe) and self.arrived and not self.arrived.done():
            self.arrived.set_result(time.perf_counter())
        await self.push_frame(frame, direction)


async def main():
    sink = Sink()
    pipeline = Pipeline([Forward() for _ in range(6)] + [sink])
    worker = PipelineWorker(pipeline, cancel_on_idle_timeout=False)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _on_started(worker, frame):
        started.set()

    samples = []

    async def probe():
        await asyncio.wait_for(started.wait(), timeout=10)
        loop = asyncio.get_running_loop()
        for _ in range(HOPS):
            sink.arrived = loop.create_future()
            sent = time.perf_counter()
            await worker.queue_frame(Probe(), FrameDirection.DOWNSTREAM)
            arrived = await sink.arrived
            samples.append(arrived - sent)
        await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), probe())
    samples.sort()
    p50 = samples[len(samples) // 2]
    p99 = samples[int((len(samples) - 1) * 0.99)]
    print(f"pipecat: one frame across 6 forwarding processors: n={len(samples)} "
          f"p50 {p50 * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms, max {samples[-1] * 1000:.3f} ms")
    print(f"PIPECAT_P50_MS={p50 * 1000:.6f}")
    print(f"PIPECAT_P99_MS={p99 * 1000:.6f}")


if __name__ == "__main__":
    quiet_logs()
    asyncio.run(main())
