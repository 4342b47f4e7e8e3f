//! Stop sequences over streamed text.
//!
//! Text that might begin a stop sequence is held back until it is known not to.

/// What one piece of generated text lets through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    /// Text the client may see now.
    pub text: String,
    /// A stop sequence was reached: generation ends, the sequence itself is not sent.
    pub stopped: bool,
}

/// Scans generated text for the request's stop sequences.
#[derive(Debug, Clone, Default)]
pub struct StopScanner {
    stops: Vec<String>,
    held: String,
}

impl StopScanner {
    pub fn new(stops: Vec<String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            held: String::new(),
        }
    }

    /// Takes the next piece of generated text.
    pub fn push(&mut self, piece: &str) -> Scan {
        self.held.push_str(piece);
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s)).min() {
            let text = self.held[..at].to_owned();
            self.held.clear();
            return Scan {
                text,
                stopped: true,
            };
        }
        // Hold the longest tail that is the start of some stop sequence.
        let keep = self
            .stops
            .iter()
            .flat_map(|stop| {
                (1..stop.len())
                    .rev()
                    .filter(|&n| stop.is_char_boundary(n))
                    .find(|&n| self.held.ends_with(&stop[..n]))
            })
            .max()
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let text = self.held[..cut].to_owned();
        self.held.drain(..cut);
        Scan {
            text,
            stopped: false,
        }
    }

    /// The text held back when generation ended without reaching a stop sequence.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut scanner = StopScanner::new(stops.iter().map(|s| (*s).to_owned()).collect());
        let mut out = String::new();
        for piece in pieces {
            let scan = scanner.push(piece);
            out.push_str(&scan.text);
            if scan.stopped {
                return (out, true);
            }
        }
        out.push_str(&scanner.finish());
        (out, false)
    }

    #[test]
    fn a_stop_sequence_split_across_pieces_ends_the_text_before_it() {
        assert_eq!(
            run(&["User:"], &["Sure, ", "see you. Us", "er: hi"]),
            ("Sure, see you. ".to_owned(), true)
        );
    }

    #[test]
    fn a_partial_match_that_turns_out_otherwise_is_released() {
        assert_eq!(
            run(&["User:"], &["Use", "ful answer"]),
            ("Useful answer".to_owned(), false)
        );
        assert_eq!(run(&["\n\n"], &["a\n"]), ("a\n".to_owned(), false));
    }

    #[test]
    fn the_earliest_of_several_stop_sequences_wins() {
        assert_eq!(
            run(&["three", "two"], &["one two three"]),
            ("one ".to_owned(), true)
        );
    }

    #[test]
    fn held_text_is_only_the_part_that_could_still_start_a_stop() {
        let mut scanner = StopScanner::new(vec!["éa".to_owned()]);
        let scan = scanner.push("café");
        assert_eq!(scan.text, "caf");
        assert_eq!(scanner.push("b").text, "éb");
    }
}
