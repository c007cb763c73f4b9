//! Opening authenticated websockets to the server's `/ws`, optionally from a chosen
//! local address (each 127.x.y.z has its own ~28k ephemeral ports).

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, anyhow};
use reqwest::Url;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

pub type Ws = WebSocketStream<TcpStream>;

/// Where `/ws` is: the socket address to connect to and the URL for the handshake.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub url: String,
}

impl Target {
    pub fn of(base: &Url) -> anyhow::Result<Self> {
        let host = base
            .host_str()
            .ok_or_else(|| anyhow!("--base-url has no host"))?;
        let port = base.port_or_known_default().unwrap_or(80);
        let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            h => h
                .parse()
                .with_context(|| format!("websockets need an IP address in --base-url, not {h}"))?,
        };
        if base.scheme() != "http" {
            anyhow::bail!("websockets are opened over plain http:// here");
        }
        let path = base.path().trim_end_matches('/');
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            url: format!("ws://{host}:{port}{path}/ws"),
        })
    }
}

/// Opens one websocket with `Authorization: Bearer <token>`; the error is a kind for
/// the counts (`connect_<io kind>`, `handshake_http_<status>`, `handshake_<what>`).
pub async fn open(target: &Target, local: Option<IpAddr>, token: &str) -> Result<Ws, String> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket_{:?}", e.kind()))?;
    if let Some(ip) = local {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind_{:?}", e.kind()))?;
    }
    let stream = socket
        .connect(target.addr)
        .await
        .map_err(|e| format!("connect_{:?}", e.kind()))?;
    let _ = stream.set_nodelay(true);
    let mut req = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|_| "handshake_bad_url".to_owned())?;
    let auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "handshake_bad_token".to_owned())?;
    req.headers_mut().insert("authorization", auth);
    match tokio_tungstenite::client_async(req, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(r)) => Err(format!("handshake_http_{}", r.status().as_u16())),
        Err(tungstenite::Error::Io(e)) => Err(format!("handshake_io_{:?}", e.kind())),
        Err(_) => Err("handshake_other".to_owned()),
    }
}

/// `{"type":"subscribe","topic":…}`.
pub fn subscribe(topic: &str) -> Message {
    Message::Text(
        serde_json::json!({"type": "subscribe", "topic": topic})
            .to_string()
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_the_base_url() -> anyhow::Result<()> {
        let t = Target::of(&Url::parse("http://127.0.0.1:8080/")?)?;
        assert_eq!(t.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(t.url, "ws://127.0.0.1:8080/ws");
        let t = Target::of(&Url::parse("http://localhost:9000/fimy/")?)?;
        assert_eq!(t.url, "ws://localhost:9000/fimy/ws");
        assert!(Target::of(&Url::parse("https://127.0.0.1/")?).is_err());
        Ok(())
    }
}
