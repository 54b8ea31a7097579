//! The answer to a client that `auth` turned away: told why, in the protocol it speaks,
//! so that it does not mistake the refusal for a network failure.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use camlnet_flow::{Flow, FlowExt, Read, Shutdown};

use crate::protocol::{self, Frame};

/// How long a refused client gets to send its first bytes (which tell its protocol), and
/// then to read the answer: short, so that a client the server does not serve costs
/// little. A client that says nothing in time gets the text-mode answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Tells the client at the other end of `flow` that it is not served and why: a `Refused`
/// frame to a binary client, `-ERR reason` to a text one. Takes at most about twice
/// [`ANSWER_TIMEOUT`].
pub(crate) async fn answer<F: Flow>(mut flow: F, reason: &str) {
    let binary = match tokio::time::timeout(ANSWER_TIMEOUT, flow.read()).await {
        Ok(Ok(Read::Data(first))) => first.first() == Some(&0),
        Ok(Ok(Read::Eof) | Err(_)) => return,
        Err(_) => false,
    };
    let answer = if binary {
        let mut out = BytesMut::new();
        let reason = reason.to_string();
        protocol::encode(&Frame::Refused { reason }, &mut out);
        out.freeze()
    } else {
        Bytes::from(format!("-ERR {reason}\n"))
    };
    if flow.write(answer).await.is_err() || flow.shutdown(Shutdown::Write).await.is_err() {
        return;
    }
    // Read what the client still sends until it closes: closing with unread bytes would
    // reset the connection, and the client could lose the answer.
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, async {
        while let Ok(Read::Data(_)) = flow.read().await {}
    })
    .await;
}
