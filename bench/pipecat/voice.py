"""Pipecat side of the voice-to-voice comparison: Pipecat 1.14 as it recommends itself, Smart Turn v3.

Run by `bench/src/bin/voice_to_voice.rs` (through `scripts/bench-pipecat`), which serves the fake
providers (a Deepgram-compatible live transcription WebSocket, OpenAI-compatible chat and speech,
each answering at a published latency with jitter) and runs vox on the same audio first.

Pipeline, as Pipecat 1.14's quickstart builds it: Deepgram STT (its own client, pointed at the fake
with `base_url`) → the user aggregator with Silero VAD (stop 0.2 s, `VAD_STOP_SECS`) and the
default user-turn strategies (Smart Turn v3.2, `LocalSmartTurnAnalyzerV3`, waiting for the final
transcript) → OpenAI LLM (streaming) → OpenAI TTS (PCM) → a sink. The phone's audio: 8 kHz, fed
in real time, 20 ms frames on a fixed schedule: each turn's WAV (`turn_N.wav` in `--wavs`), then
`--gap` seconds of silence, after a second of silence as the call starts. Prints `PIPECAT_EVENT=<kind> <wall-clock seconds>` for each end of
speech (`end`), VAD stop (`vad_stop`), end-of-turn decision (`turn`) and first bot audio frame of a
reply (`audio`); the Rust side pairs them with the providers' log.
"""

import argparse
import asyncio
import time
import wave

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import EndFrame, UserStoppedSpeakingFrame, VADUserStoppedSpeakingFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.workers.runner import WorkerRunner

from common import Clock, ReplySink, quiet_logs, worker_for

RATE = 8000
FRAME_SAMPLES = RATE // 50


def event(kind: str, at: float):
    print(f"PIPECAT_EVENT={kind} {at:.6f}", flush=True)


class TurnProbe(FrameProcessor):
    """After the user aggregator: the VAD's stop and the end-of-turn decision."""

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, VADUserStoppedSpeakingFrame):
                event("vad_stop", time.time())
            elif isinstance(frame, UserStoppedSpeakingFrame):
                event("turn", time.time())
        await self.push_frame(frame, direction)


def turn_audio(path: str) -> bytes:
    with wave.open(path, "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes())


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deepgram-url", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--wavs", required=True)
    parser.add_argument("--turns", type=int, required=True)
    parser.add_argument("--sentences", type=int, required=True)
    parser.add_argument("--gap", type=float, default=3.0)
    args = parser.parse_args()
    clips = [turn_audio(f"{args.wavs}/turn_{i}.wav") for i in range(args.sentences)]

    stt = DeepgramSTTService(api_key="bench", base_url=args.deepgram_url, sample_rate=RATE)
    llm = OpenAILLMService(api_key="bench", base_url=args.base_url, model="fake")
    tts = OpenAITTSService(api_key="bench", base_url=args.base_url, sample_rate=24000)
    context = LLMContext([{"role": "system", "content": "You book appointments."}])
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.2)),
        ),
    )
    sink = ReplySink(lambda: event("audio", time.time()))
    pipeline = Pipeline([stt, aggregators.user(), TurnProbe(), llm, tts, sink, aggregators.assistant()])
    worker, started = worker_for(pipeline, RATE)

    async def feed():
        await asyncio.wait_for(started.wait(), timeout=60)
        # The Deepgram client connects as the pipeline starts; give it its handshake.
        await asyncio.sleep(1.0)
        silence = bytes(FRAME_SAMPLES * 2)
        step = FRAME_SAMPLES * 2
        gap_frames = round(args.gap / 0.02)
        clock = Clock(worker, RATE)
        # A second of quiet before the first words, as a call's audio starts.
        for _ in range(50):
            await clock.send(silence)
        for turn in range(args.turns):
            clip = clips[turn % len(clips)]
            speech_frames = [clip[i : i + step].ljust(step, b"\0") for i in range(0, len(clip), step)]
            for i, pcm in enumerate(speech_frames + [silence] * gap_frames):
                await clock.send(pcm)
                if i + 1 == len(speech_frames):
                    event("end", time.time())
        await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), feed())


if __name__ == "__main__":
    quiet_logs()
    asyncio.run(main())
