//! Property tests: no input panics or grows the buffers past their bounds; splitting never
//! changes the outcome; xtext round trips.

use proptest::prelude::*;

use super::{config, run_once, run_with, FakeDir};
use crate::protocols::smtp::session::Mode;
use crate::protocols::smtp::{parse_command, xtext_decode, xtext_encode, Session};

/// SMTP-looking input: fragments of commands, content and terminators, mixed with noise.
fn smtp_input() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"EHLO c\r\n".to_vec()),
        Just(b"HELO c\r\n".to_vec()),
        Just(b"MAIL FROM:<a@example.org>\r\n".to_vec()),
        Just(b"MAIL FROM:<a@example.org> SIZE=500 BODY=8BITMIME\r\n".to_vec()),
        Just(b"RCPT TO:<bob@example.com>\r\n".to_vec()),
        Just(b"RCPT TO:<x@remote.org> NOTIFY=NEVER\r\n".to_vec()),
        Just(b"DATA\r\n".to_vec()),
        Just(b"BDAT 5\r\n".to_vec()),
        Just(b"BDAT 3 LAST\r\n".to_vec()),
        Just(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n".to_vec()),
        Just(b"AUTH LOGIN\r\n".to_vec()),
        Just(b"STARTTLS\r\n".to_vec()),
        Just(b"RSET\r\n".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"\n.\n".to_vec()),
        Just(b".".to_vec()),
        Just(b"*\r\n".to_vec()),
        Just(vec![b'x'; 700]),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(fragment, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(input in proptest::collection::vec(any::<u8>(), 0..3000), cut in 1usize..64) {
        let mut s = Session::new(config(), super::peer(), false);
        s.greeting();
        for piece in input.chunks(cut) {
            s.receive(piece, &FakeDir);
            prop_assert!(s.buffered() <= s.pending_limit());
            if !s.is_waiting() {
                let bound = if matches!(s.mode, Mode::Closed) { 0 } else { 511 };
                prop_assert!(s.buffered() <= bound, "buffered {}", s.buffered());
            }
            if let Some(tx) = &s.tx {
                prop_assert!(tx.body.capacity() as u64 <= config().max_message_size);
            }
        }
        s.shutdown();
        s.timeout();
    }

    #[test]
    fn smtp_like_input_is_split_invariant(input in smtp_input(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let cfg = config();
        let whole = run_once(&cfg, false, &[&input]);
        let (mut a, mut b) = (a.index(input.len() + 1), b.index(input.len() + 1));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        let split = run_with(&cfg, false, &[&input], &|_, t| {
            vec![t[..a].to_vec(), t[a..b].to_vec(), t[b..].to_vec()]
        });
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn parser_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_command(&line);
    }

    #[test]
    fn xtext_round_trip(s in any::<String>()) {
        let encoded = xtext_encode(&s);
        prop_assert!(encoded.bytes().all(|b| (33..=126).contains(&b) && b != b'='));
        prop_assert_eq!(xtext_decode(&encoded), Some(s));
    }
}

#[test]
fn xtext_examples() {
    assert_eq!(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
    assert_eq!(xtext_decode("a+2Bb+3dc"), Some("a+b=c".into()));
    assert_eq!(xtext_decode("a+2"), None);
    assert_eq!(xtext_decode("a=b"), None);
    assert_eq!(xtext_decode("a b"), None);
}
