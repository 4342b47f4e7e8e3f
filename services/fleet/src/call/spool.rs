//! A call's recording spilled to disk while the call runs, so a long call holds little of it.
//!
//! The recorder keeps the last stretch in memory (late audio still lands where it belongs) and
//! hands older audio to a sink that appends it to `spool/<call id>.wav` in the worker's outbox
//! folder, after a header written with no length. When the call ends the rest is appended and
//! the header gets its lengths; the file then moves into the call's outbox entry (the same
//! disk), and delivery streams it to the recording store. A write that fails removes the file,
//! and the call is delivered without a recording (M7).

use audio::{SampleRate, StereoRecorder};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How much a spilling recorder keeps behind the end: late bot audio lands within this.
const KEEP_SECONDS: u64 = 30;

/// Makes `recorder` spill to a new file at `path` (a header first, its lengths left at 0).
pub(crate) fn spill(recorder: &mut StereoRecorder, path: PathBuf) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let rate = recorder.rate();
    let mut file = std::fs::File::create(&path)?;
    file.write_all(&header(rate, 0)?)?;
    let mut file = Some(file);
    recorder.spill_to(
        KEEP_SECONDS * u64::from(rate.hz()),
        Box::new(move |samples: &[i16]| {
            let Some(open) = &mut file else {
                return;
            };
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            if let Err(error) = open.write_all(&bytes) {
                tracing::error!(path = %path.display(), %error, "spilling the recording failed; the call keeps no recording");
                file = None;
                let _ = std::fs::remove_file(&path);
            }
        }),
    );
    Ok(())
}

fn header(rate: SampleRate, data_bytes: u32) -> std::io::Result<Vec<u8>> {
    audio::wav::header(rate, 2, data_bytes).map_err(std::io::Error::other)
}

/// Appends what `recorder` still holds to its spill file, writes the header's lengths and
/// syncs the file: a complete stereo WAV at `path`. An error when a spill write failed (the
/// file is gone or short) or the file is over WAV's 4 GiB.
pub(crate) fn finish(recorder: &mut StereoRecorder, path: &Path) -> Result<(), String> {
    let samples = recorder.end();
    recorder.close_spill();
    let expected = 44 + samples * 4;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let length = file.metadata().map_err(|e| e.to_string())?.len();
    if length != expected {
        return Err(format!(
            "{} has {length} bytes, not {expected}: a spill write failed",
            path.display()
        ));
    }
    let data = u32::try_from(samples * 4)
        .map_err(|_| format!("{} bytes of audio are over WAV's limit", samples * 4))?;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&header(recorder.rate(), data)?))
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("finishing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use audio::Track;

    #[test]
    fn a_spilled_recording_is_the_same_wav_the_recorder_would_have_made_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool/7.wav");
        let mut whole = StereoRecorder::new(SampleRate::Hz8000);
        let mut spilled = StereoRecorder::new(SampleRate::Hz8000);
        spill(&mut spilled, path.clone()).unwrap();
        // Two minutes: the caller throughout, the bot now and then, a little late.
        for frame in 0..6_000u64 {
            let caller: Vec<i16> = (0..160).map(|i| ((frame * 160 + i) % 500) as i16).collect();
            for recorder in [&mut whole, &mut spilled] {
                recorder.write(Track::Caller, frame * 160, &caller);
                if frame % 100 == 50 {
                    recorder.write(Track::Bot, frame * 160 - 4_000, &[900; 8_000]);
                }
            }
        }
        assert!(spilled.held() <= 2 * KEEP_SECONDS * 8_000 + 8_000);
        finish(&mut spilled, &path).unwrap();
        let expected = whole.to_wav().unwrap();
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len(), expected.len());
        assert!(written == expected, "the spilled WAV differs");
    }

    #[test]
    fn a_spill_file_gone_by_the_end_gives_an_error_not_a_recording() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool/8.wav");
        let mut recorder = StereoRecorder::new(SampleRate::Hz8000);
        spill(&mut recorder, path.clone()).unwrap();
        recorder.write(Track::Caller, 0, &vec![1; 8_000 * 70]);
        // A failed write removes the file; so does an operator cleaning the disk.
        std::fs::remove_file(&path).unwrap();
        let error = finish(&mut recorder, &path).unwrap_err();
        assert!(error.contains("opening"), "{error}");
        assert!(!path.exists());
    }
}
