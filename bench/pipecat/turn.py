"""Pipecat side of the whole-turn comparison: one spoken turn through Pipecat's services.

Run by `bench/src/bin/whole_turn.rs` (through `scripts/bench-pipecat`), which serves the fake
OpenAI-compatible providers this script points Pipecat's OpenAI STT, LLM and TTS services at, and
runs vox's pipeline on the same audio first. Pipeline: Silero VAD → OpenAI STT (one request per
VAD-bounded utterance) → user aggregator (VAD stop 0.2 s + speech timeout 0.6 s = 0.8 s of silence,
as vox waits) → OpenAI LLM (streaming) → OpenAI TTS (PCM) → a sink that times the first audio
frame of each reply. Audio is fed in real time, 20 ms frames on a fixed schedule: one second of
the espeak sentence (its second second, as the Rust side cuts it), then `--gap` seconds of
silence, per turn. Prints one `PIPECAT_TURN_MS=` line per turn: from the last speech frame fed to
the first bot audio frame, and from the aggregator's end-of-turn decision (`UserStoppedSpeakingFrame`)
to that frame.
"""

import argparse
import asyncio
import time
import wave

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import EndFrame, UserStoppedSpeakingFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from common import Clock, ReplySink, quiet_logs, worker_for

RATE = 16000
FRAME_SAMPLES = RATE // 50


class TurnProbe(FrameProcessor):
    """Times the user aggregator's decision that the user's turn ended."""

    def __init__(self):
        super().__init__()
        self.decisions: list[float] = []

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if isinstance(frame, UserStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            self.decisions.append(time.perf_counter())
        await self.push_frame(frame, direction)


def speech_clip(path: str) -> bytes:
    with wave.open(path, "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = w.readframes(w.getnframes())
    return pcm[RATE * 2 : RATE * 4]  # samples 16,000..32,000: the sentence's second second


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--wav", required=True)
    parser.add_argument("--turns", type=int, default=25)
    parser.add_argument("--gap", type=float, default=3.0)
    args = parser.parse_args()
    speech = speech_clip(args.wav)

    stt = OpenAISTTService(api_key="bench", base_url=args.base_url)
    llm = OpenAILLMService(api_key="bench", base_url=args.base_url, model="fake")
    tts = OpenAITTSService(api_key="bench", base_url=args.base_url, sample_rate=24000)
    context = LLMContext([{"role": "system", "content": "You book appointments."}])
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.6)]
            ),
        ),
    )
    vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.2)))
    probe = TurnProbe()
    starts: list[float] = []
    sink = ReplySink(lambda: starts.append(time.perf_counter()))
    pipeline = Pipeline(
        [vad, stt, aggregators.user(), probe, llm, tts, sink, aggregators.assistant()]
    )
    worker, started = worker_for(pipeline, RATE)

    ends: list[float] = []

    async def feed():
        await asyncio.wait_for(started.wait(), timeout=30)
        silence = bytes(FRAME_SAMPLES * 2)
        speech_frames = [
            speech[i : i + FRAME_SAMPLES * 2] for i in range(0, len(speech), FRAME_SAMPLES * 2)
        ]
        gap_frames = round(args.gap / 0.02)
        clock = Clock(worker, RATE)
        for _ in range(args.turns):
            frames = speech_frames + [silence] * gap_frames
            for i, pcm in enumerate(frames):
                await clock.send(pcm)
                if i + 1 == len(speech_frames):
                    ends.append(time.perf_counter())
        await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), feed())

    for turn, end in enumerate(ends):
        following = ends[turn + 1] if turn + 1 < len(ends) else float("inf")
        reply = next((s for s in starts if end < s < following), None)
        if reply is None:
            raise SystemExit(f"turn {turn} got no reply before the next one")
        decision = next((d for d in probe.decisions if end < d < reply), None)
        if decision is None:
            raise SystemExit(f"turn {turn} has no end-of-turn decision before its reply")
        print(f"PIPECAT_TURN_MS={(reply - end) * 1000:.3f} {(reply - decision) * 1000:.3f}")


if __name__ == "__main__":
    quiet_logs()
    asyncio.run(main())
