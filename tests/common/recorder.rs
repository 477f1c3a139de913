//! A recording HTTP server on 127.0.0.1:0, used as a proxy or as a
//! redirect target: it keeps every request it is sent (the request line,
//! headers and body, as text; a `CONNECT` authority too) and answers a
//! request whose target it was told about with that JSON, anything else
//! 502 (a `CONNECT` is never tunnelled).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    answers: HashMap<String, String>,
}

pub struct Recorder {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl Recorder {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).await.unwrap_or(0) == 0 {
                            break;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let length = text
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; length.min(1 << 20)];
                    let _ = client.read_exact(&mut body).await;
                    let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                    let answer = {
                        let mut seen = state.lock().unwrap();
                        seen.requests
                            .push(format!("{text}{}", String::from_utf8_lossy(&body)));
                        seen.answers.get(&target).cloned()
                    };
                    let reply = match answer {
                        Some(json) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                            json.len()
                        ),
                        None => "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
                    };
                    let _ = client.write_all(reply.as_bytes()).await;
                    let _ = client.shutdown().await;
                });
            }
        });
        Self { addr, seen }
    }

    /// `http://` and the address: the proxy URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers a request for `target` (as the request line names it: an
    /// absolute URL when used as a proxy) with `json`.
    pub fn answer(&self, target: &str, json: &str) {
        let mut seen = self.seen.lock().unwrap();
        seen.answers.insert(target.into(), json.into());
    }

    /// Every request received so far, each as its text.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().requests.clone()
    }

    /// The request lines received so far (`GET http://host/path HTTP/1.1`,
    /// `CONNECT host:443 HTTP/1.1`).
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.lines().next().unwrap_or_default().to_owned())
            .collect()
    }
}
