//! Serving the router over TCP: our own accept loop on hyper (as `axum::serve` does), so
//! that what hyper answers by itself also carries the error envelope.
//!
//! # Guarantees
//! - A request hyper refuses before it reaches the router — a head over [`MAX_HEAD_BYTES`]
//!   or with too many header fields (431), a request target too long (414), bytes that are
//!   not HTTP (a raw NUL or control character, 400), an unsupported version (505) — gets
//!   the JSON envelope with a generated `X-Request-ID`, like every other error, and the
//!   connection is closed (hyper closes it after such an answer).
//! - Every request sees the peer address as `ConnectInfo<SocketAddr>`.
//! - On shutdown no new connection is accepted, open ones finish their current request
//!   (graceful shutdown), and the function returns when they are all closed.
//!
//! # How the envelope gets there
//! hyper writes those answers itself (a status line, `content-length: 0`, `date`) and offers
//! no hook. Each connection's writes pass through [`EnvelopeHyperErrors`]: a write that
//! starts an HTTP/1.1 4xx/5xx response *without* the `x-request-id` header — which every
//! response of the router has (the request-context middleware sets it) — can only be one of
//! hyper's own, and is replaced by the same status with the envelope body.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The largest request head (request line and header fields) accepted: above it, 431.
/// nginx's default allows 4 × 8 KiB header lines; tokens and cookies fit many times over.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Header fields per request at most (hyper's default): above it, 431.
pub const MAX_HEADER_FIELDS: usize = 100;

/// Serves `router` on `listener` until `shutdown`, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let connections = TaskTracker::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADER_FIELDS)
        // Slowloris: a client must finish its request head within this time.
        .header_read_timeout(Duration::from_secs(30));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move {
                    Ok::<_, Infallible>(
                        router
                            .oneshot(request.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|never| match never {}),
                    )
                }
            },
        ));
        let builder = builder.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let io = TokioIo::new(EnvelopeHyperErrors::new(stream));
            let connection = builder.serve_connection_with_upgrades(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, %peer, "connection ended with an error");
                    }
                    return;
                }
                _ = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Writes of one connection, with hyper's own error answers replaced by enveloped ones.
#[derive(Debug)]
pub struct EnvelopeHyperErrors<T> {
    inner: T,
    /// A replacement being written, and how many bytes of hyper's answer it stands for.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<T> EnvelopeHyperErrors<T> {
    pub fn new(inner: T) -> Self {
        EnvelopeHyperErrors {
            inner,
            replacement: None,
        }
    }
}

/// The enveloped answer standing in for hyper's `buf`, if `buf` is one of hyper's own.
fn replacement_for(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.contains("\r\nx-request-id:") || !head.contains("\r\ncontent-length: 0") {
        return None;
    }
    let (code, message, suggestion) = match status {
        414 => (
            "URI_TOO_LONG",
            "The request target (path and query) is too long.",
            "Shorten the URL; filters belong in a few short query parameters.",
        ),
        431 => (
            "HEADERS_TOO_LARGE",
            "The request's header fields are too large or too many.",
            "Send at most 32 KiB of header fields and at most 100 of them.",
        ),
        505 => (
            "HTTP_VERSION_NOT_SUPPORTED",
            "This HTTP version is not supported.",
            "Use HTTP/1.1 or HTTP/2.",
        ),
        400 => (
            "MALFORMED_REQUEST",
            "The request is not valid HTTP (for example a raw NUL or control character in the request line or a header).",
            "Percent-encode special characters in the URL and send header values as visible ASCII.",
        ),
        _ => (
            "REQUEST_REFUSED",
            "The server could not read this request.",
            "Check the request against HTTP/1.1 and retry.",
        ),
    };
    let request_id = super::new_request_id();
    let body = serde_json::json!({
        "requestId": request_id,
        "error": { "code": code, "message": message, "suggestion": suggestion, "retryable": false },
    })
    .to_string();
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             x-request-id: {request_id}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for EnvelopeHyperErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EnvelopeHyperErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none() {
            match replacement_for(buf) {
                Some(bytes) => this.replacement = Some((bytes, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // hyper calls again with the same buffer until it is reported written.
        if let Some((bytes, stands_for)) = &mut this.replacement {
            while !bytes.is_empty() {
                let written = ready!(Pin::new(&mut this.inner).poll_write(cx, bytes))?;
                if written == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                bytes.drain(..written);
            }
            let stands_for = *stands_for;
            this.replacement = None;
            return Poll::Ready(Ok(stands_for));
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each answer's head as one contiguous buffer, which is
    // what the check above looks at.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::replacement_for;

    #[test]
    fn only_hypers_own_bare_error_answers_are_replaced() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 10:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(replacement_for(hyper_431).expect("replaced")).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(replaced.contains("\r\nx-request-id: req_"));
        let body = replaced.split_once("\r\n\r\n").unwrap().1;
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "HEADERS_TOO_LARGE");
        assert_eq!(
            body["requestId"].as_str().map(|s| s.starts_with("req_")),
            Some(true)
        );

        // The router's own answers carry x-request-id and are left alone.
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nx-request-id: req_1\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement_for(ours).is_none());
        // Successes, bodies and partial heads are left alone.
        assert!(replacement_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement_for(b"data: HTTP/1.1 400\r\n\r\n").is_none());
        assert!(replacement_for(b"HTTP/1.1 400 Bad Request\r\ncontent-le").is_none());
    }
}
