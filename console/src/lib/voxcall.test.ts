// Unit tests of the test call's audio framing: PCM16 little-endian both ways, clipped at full scale.
import { describe, expect, it } from 'vitest';
import { floatTo16, pcm16ToFloat } from './voxcall';

describe('vox media framing', () => {
  it('writes little-endian 16-bit samples, clipping beyond full scale', () => {
    const bytes = new Uint8Array(floatTo16(Float32Array.from([0, 1, -1, 2, 0.5])));
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(10);
    expect([0, 1, 2, 3, 4].map((i) => view.getInt16(i * 2, true))).toEqual([0, 32767, -32767, 32767, 16384]);
    expect(bytes[2]).toBe(0xff);
    expect(bytes[3]).toBe(0x7f);
  });

  it('reads what it writes within one step, and ignores an odd trailing byte', () => {
    const samples = Float32Array.from([0.25, -0.75, 0.1]);
    const back = pcm16ToFloat(floatTo16(samples));
    back.forEach((s, i) => expect(Math.abs(s - samples[i])).toBeLessThan(1 / 16000));
    expect(pcm16ToFloat(new Uint8Array([1, 0, 7]).buffer).length).toBe(1);
  });
});
