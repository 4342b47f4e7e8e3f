"""What the Pipecat sides of the benchmarks (`hops.py`, `turn.py`, `voice.py`) share.

A sink that reports each reply's first audio frame, a worker whose start can be awaited, and a
clock that feeds caller audio in real time, one 20 ms frame every 20 ms on a fixed schedule; and
`quiet_logs()`, which every side calls first.
"""

import asyncio
import sys
import time

from loguru import logger

from pipecat.frames.frames import InputAudioRawFrame, TTSAudioRawFrame, TTSStartedFrame
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor


def quiet_logs():
    """Pipecat logs through loguru at DEBUG by default, a line per frame event; vox's side logs
    nothing while it is measured. Both are measured at the same level: warnings and errors only."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


class ReplySink(FrameProcessor):
    """Calls `on_first_audio()` at the first audio frame of each reply."""

    def __init__(self, on_first_audio):
        super().__init__()
        self._on_first_audio = on_first_audio
        self._speaking = False

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSStartedFrame):
            self._speaking = True
        elif isinstance(frame, TTSAudioRawFrame) and self._speaking:
            self._on_first_audio()
            self._speaking = False
        await self.push_frame(frame, direction)


def worker_for(pipeline, rate: int):
    """A worker for `pipeline` with caller audio at `rate`, and an event set once it has started."""
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=rate, audio_out_sample_rate=24000),
        cancel_on_idle_timeout=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _on_started(worker, frame):
        started.set()

    return worker, started


class Clock:
    """Sends caller frames on a fixed 20 ms schedule from its creation."""

    def __init__(self, worker, rate: int):
        self._worker = worker
        self._rate = rate
        self._next_at = time.perf_counter()

    async def send(self, pcm: bytes):
        self._next_at += 0.02
        delay = self._next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await self._worker.queue_frame(
            InputAudioRawFrame(audio=pcm, sample_rate=self._rate, num_channels=1)
        )
