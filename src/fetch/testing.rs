//! Scripted servers for the client tests: a transcript of `S:` lines (sent by the server)
//! and `C:` lines (expected from the client, exactly) played over an in-memory pipe.
//! `S:` lines may carry `\r\n` escapes for literal bodies; `CLOSE` hangs up.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;

use super::conn::LineConn;

/// A client connection whose other end plays `script`; the handle says how the script
/// went (an error names the first difference).
pub fn scripted(script: &str) -> (LineConn, JoinHandle<Result<(), String>>) {
    scripted_through(script, 1 << 20)
}

/// As [`scripted`], through a pipe of `capacity` bytes: with 1, the client receives every
/// response split at every byte.
pub fn scripted_through(
    script: &str,
    capacity: usize,
) -> (LineConn, JoinHandle<Result<(), String>>) {
    let (client, server) = tokio::io::duplex(capacity);
    let script: Vec<String> = script
        .lines()
        .map(|l| l.trim_start().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let task = tokio::spawn(async move {
        let (read, mut write) = tokio::io::split(server);
        let mut read = BufReader::new(read);
        for step in script {
            let sent = if step == "S:" {
                Some("")
            } else {
                step.strip_prefix("S: ")
            };
            if let Some(s) = sent {
                let s = s.replace("\\r\\n", "\r\n");
                write
                    .write_all(format!("{s}\r\n").as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            } else if let Some(want) = step.strip_prefix("C: ") {
                let mut got = String::new();
                read.read_line(&mut got).await.map_err(|e| e.to_string())?;
                let got = got.trim_end_matches(['\r', '\n']);
                if got != want {
                    return Err(format!("expected C: {want}\n     got C: {got}"));
                }
            } else if step == "CLOSE" {
                return Ok(());
            } else {
                return Err(format!("bad script line {step:?}"));
            }
        }
        // Let the client read what was sent last before the pipe closes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    });
    (
        LineConn::new(Box::new(client), Duration::from_secs(2), 4096),
        task,
    )
}

/// A connection that reads `bytes` and then the end of the stream (for robustness tests).
pub async fn feeding(bytes: &[u8]) -> LineConn {
    let (client, mut server) = tokio::io::duplex(bytes.len() + 1);
    let _ = server.write_all(bytes).await;
    drop(server);
    LineConn::new(Box::new(client), Duration::from_millis(200), 256)
}

/// Runs `f` on a fresh single-threaded runtime (proptest bodies are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
