// A browser test call over the fleet's `vox` media protocol: the microphone as 16 kHz PCM16 binary frames, the bot's audio played as it arrives (dropped on `clear`), marks echoed once played, and the live transcript.

export const RATE = 16000;
/// Samples per frame sent: 20 ms.
const FRAME = RATE / 50;

/// Float samples in [-1, 1] as little-endian 16-bit PCM.
export function floatTo16(samples: Float32Array): ArrayBuffer {
  const out = new DataView(new ArrayBuffer(samples.length * 2));
  samples.forEach((s, i) => out.setInt16(i * 2, Math.round(Math.max(-1, Math.min(1, s)) * 32767), true));
  return out.buffer;
}

/// Little-endian 16-bit PCM as float samples; an odd trailing byte is ignored.
export function pcm16ToFloat(bytes: ArrayBuffer): Float32Array<ArrayBuffer> {
  const view = new DataView(bytes);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

export type Line = { speaker: 'user' | 'assistant'; text: string; interrupted: boolean };

export interface CallEvents {
  onLine(line: Line): void;
  onState(state: 'connecting' | 'live' | 'ended', detail?: string): void;
}

// The capture worklet: hands each 128-sample block of the microphone to the page.
const CAPTURE = `class VoxCapture extends AudioWorkletProcessor {
  process(inputs) { const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true; }
}
registerProcessor('vox-capture', VoxCapture);`;

export class VoxCall {
  private ws?: WebSocket;
  private context?: AudioContext;
  private stream?: MediaStream;
  private playing: AudioBufferSourceNode[] = [];
  private nextAt = 0;
  private pending: number[] = [];
  private ended = false;

  constructor(
    private mediaUrl: string,
    private events: CallEvents,
  ) {}

  async start(): Promise<void> {
    this.events.onState('connecting');
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
    const context = new AudioContext({ sampleRate: RATE });
    this.context = context;
    const module = URL.createObjectURL(new Blob([CAPTURE], { type: 'application/javascript' }));
    await context.audioWorklet.addModule(module);
    URL.revokeObjectURL(module);
    const capture = new AudioWorkletNode(context, 'vox-capture');
    const mute = context.createGain();
    mute.gain.value = 0;
    context.createMediaStreamSource(this.stream).connect(capture).connect(mute).connect(context.destination);
    const ws = new WebSocket(this.mediaUrl);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'start', sample_rate: RATE }));
      this.events.onState('live');
    };
    capture.port.onmessage = (message: MessageEvent<Float32Array>) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      for (const s of message.data) this.pending.push(s);
      while (this.pending.length >= FRAME) ws.send(floatTo16(Float32Array.from(this.pending.splice(0, FRAME))));
    };
    ws.onmessage = (message) => (typeof message.data === 'string' ? this.control(message.data) : this.play(message.data as ArrayBuffer));
    ws.onclose = (event) => this.finish(event.reason || 'the worker closed the call');
    ws.onerror = () => this.finish('the media connection failed');
  }

  /// Ends the call from the browser's side.
  hangUp(): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'hangup' }));
    this.finish('you hung up');
  }

  private control(text: string) {
    let message: { type?: string; [key: string]: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === 'transcript') {
      this.events.onLine({ speaker: message.speaker === 'user' ? 'user' : 'assistant', text: String(message.text ?? ''), interrupted: Boolean(message.interrupted) });
    } else if (message.type === 'clear') {
      // The caller spoke over the bot: drop what is queued.
      for (const source of this.playing) source.stop();
      this.playing = [];
      this.nextAt = 0;
    } else if (message.type === 'mark') {
      const context = this.context;
      const wait = context ? Math.max(0, this.nextAt - context.currentTime) * 1000 : 0;
      setTimeout(() => this.ws?.readyState === WebSocket.OPEN && this.ws.send(JSON.stringify({ type: 'mark', name: message.name })), wait);
    } else if (message.type === 'end') {
      this.finish(`the call ended: ${String(message.reason ?? 'done')}`);
    }
  }

  private play(bytes: ArrayBuffer) {
    const context = this.context;
    if (!context || this.ended) return;
    const samples = pcm16ToFloat(bytes);
    if (samples.length === 0) return;
    const buffer = context.createBuffer(1, samples.length, RATE);
    buffer.copyToChannel(samples, 0);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    const at = Math.max(context.currentTime, this.nextAt);
    source.start(at);
    this.nextAt = at + buffer.duration;
    this.playing.push(source);
    source.onended = () => (this.playing = this.playing.filter((s) => s !== source));
  }

  private finish(reason: string) {
    if (this.ended) return;
    this.ended = true;
    this.ws?.close();
    this.stream?.getTracks().forEach((t) => t.stop());
    void this.context?.close();
    this.events.onState('ended', reason);
  }
}
