//! G.711 μ-law and A-law, the carriers' 8 kHz codecs, as ITU-T G.711 defines them.
//!
//! The encoders follow the segment search of the CCITT reference code (Sun Microsystems' `g711.c`,
//! the same code CPython's `audioop` carries); decoding goes through 256-entry tables built at
//! compile time. The tests compare every code and every 16-bit input with the reference tables.

const QUANT_MASK: u8 = 0x0F;
const SEG_SHIFT: u8 = 4;
const SEG_MASK: u8 = 0x70;
const SIGN_BIT: u8 = 0x80;
const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8159;
const ULAW_SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

const fn segment(value: i32, ends: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if value <= ends[i] {
            return i;
        }
        i += 1;
    }
    8
}

/// One 16-bit sample to a μ-law code.
pub const fn ulaw_encode(sample: i16) -> u8 {
    let mut value = (sample as i32) >> 2;
    let mask: u8 = if value < 0 {
        value = -value;
        0x7F
    } else {
        0xFF
    };
    if value > ULAW_CLIP {
        value = ULAW_CLIP;
    }
    value += ULAW_BIAS >> 2;
    let seg = segment(value, &ULAW_SEG_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let code = ((seg as u8) << 4) | (((value >> (seg + 1)) as u8) & QUANT_MASK);
    code ^ mask
}

const fn ulaw_decode_one(code: u8) -> i16 {
    let code = !code;
    let mut t = (((code & QUANT_MASK) as i32) << 3) + ULAW_BIAS;
    t <<= (code & SEG_MASK) >> SEG_SHIFT;
    (if code & SIGN_BIT != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

/// One 16-bit sample to an A-law code.
pub const fn alaw_encode(sample: i16) -> u8 {
    let mut value = (sample as i32) >> 3;
    let mask: u8 = if value >= 0 {
        0xD5
    } else {
        value = -value - 1;
        0x55
    };
    let seg = segment(value, &ALAW_SEG_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut code = (seg as u8) << SEG_SHIFT;
    code |= if seg < 2 {
        ((value >> 1) as u8) & QUANT_MASK
    } else {
        ((value >> seg) as u8) & QUANT_MASK
    };
    code ^ mask
}

const fn alaw_decode_one(code: u8) -> i16 {
    let code = code ^ 0x55;
    let mut t = ((code & QUANT_MASK) as i32) << 4;
    let seg = (code & SEG_MASK) >> SEG_SHIFT;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if code & SIGN_BIT != 0 { t } else { -t }) as i16
}

const fn table(ulaw: bool) -> [i16; 256] {
    let mut out = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        out[code] = if ulaw {
            ulaw_decode_one(code as u8)
        } else {
            alaw_decode_one(code as u8)
        };
        code += 1;
    }
    out
}

static ULAW_TABLE: [i16; 256] = table(true);
static ALAW_TABLE: [i16; 256] = table(false);

/// One μ-law code to a 16-bit sample.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// One A-law code to a 16-bit sample.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

/// A μ-law payload (one byte a sample) to PCM16.
pub fn decode_ulaw(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| ulaw_decode(c)).collect()
}

/// PCM16 to a μ-law payload.
pub fn encode_ulaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| ulaw_encode(s)).collect()
}

/// An A-law payload (one byte a sample) to PCM16.
pub fn decode_alaw(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|&c| alaw_decode(c)).collect()
}

/// PCM16 to an A-law payload.
pub fn encode_alaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| alaw_encode(s)).collect()
}
