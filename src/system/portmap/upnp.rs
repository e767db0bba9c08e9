//! UPnP IGD (v1 and v2) through igd-next: the router found by SSDP, its control URL
//! checked by the crate to be on the address that answered, and that address checked here
//! to be on the LAN.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use igd_next::{
    aio::{self, tokio::Tokio},
    AddPortError, PortMappingProtocol, SearchOptions,
};

use super::{is_lan, local_addr_towards, Granted, Mapping, Protocol, Refusal};

/// The name the router lists the mappings under.
const DESCRIPTION: &str = "streamp2p";

#[derive(Debug, thiserror::Error)]
pub enum UpnpError {
    #[error("search: {0}")]
    Search(#[from] igd_next::SearchError),
    #[error("the router answered from {0}, which is not on the local network")]
    NotLan(IpAddr),
    #[error("no address towards the router: {0}")]
    Local(#[from] std::io::Error),
    #[error("{0}")]
    Remove(#[from] igd_next::RemovePortError),
}

pub struct Gateway {
    gateway: aio::Gateway<Tokio>,
    /// The box's address the router forwards to.
    local: IpAddr,
}

fn protocol(p: Protocol) -> PortMappingProtocol {
    match p {
        Protocol::Tcp => PortMappingProtocol::TCP,
        Protocol::Udp => PortMappingProtocol::UDP,
    }
}

impl Gateway {
    pub async fn search(within: Duration) -> Result<Gateway, UpnpError> {
        let mut options = SearchOptions::default();
        options.timeout = Some(within);
        options.single_search_timeout = Some(within);
        let gateway = aio::tokio::search_gateway(options).await?;
        let addr = gateway.addr.ip();
        if !is_lan(addr) {
            return Err(UpnpError::NotLan(addr));
        }
        let local = local_addr_towards(addr)?;
        Ok(Gateway { gateway, local })
    }

    pub fn addr(&self) -> IpAddr {
        self.gateway.addr.ip()
    }

    pub fn local(&self) -> IpAddr {
        self.local
    }

    pub async fn external_ip(&self) -> Option<IpAddr> {
        match self.gateway.get_external_ip().await {
            Ok(ip) => Some(ip),
            Err(e) => {
                tracing::debug!("the router gives no external address: {e}");
                None
            }
        }
    }

    /// Asks for the port outside the box holds already (`current`), else the same port as
    /// inside; when another device holds it, for any port the router gives (reported with
    /// the port it is). Asking again for a mapping the box holds renews its lease.
    pub async fn map(
        &self,
        m: &Mapping,
        current: Option<u16>,
        lease: Duration,
    ) -> Result<Granted, Refusal> {
        let local = SocketAddr::new(self.local, m.internal_port);
        let proto = protocol(m.protocol);
        let want = current.unwrap_or(m.external_port);
        let granted = |external_port| Granted {
            external_port,
            lease,
        };
        let lease_secs = u32::try_from(lease.as_secs()).unwrap_or(u32::MAX);
        let asked = self
            .gateway
            .add_port(proto, want, local, lease_secs, DESCRIPTION)
            .await;
        let asked = match asked {
            // Some routers keep only permanent mappings: then it is removed on shutdown only.
            Err(AddPortError::OnlyPermanentLeasesSupported) => {
                self.gateway
                    .add_port(proto, want, local, 0, DESCRIPTION)
                    .await
            }
            other => other,
        };
        match asked {
            Ok(()) => Ok(granted(want)),
            Err(AddPortError::ActionNotAuthorized) => Err(Refusal::NotAllowed),
            Err(AddPortError::PortInUse) => self
                .gateway
                .add_any_port(proto, local, lease_secs, DESCRIPTION)
                .await
                .map(granted)
                .map_err(|e| match e {
                    igd_next::AddAnyPortError::ActionNotAuthorized => Refusal::NotAllowed,
                    igd_next::AddAnyPortError::NoPortsAvailable
                    | igd_next::AddAnyPortError::ExternalPortInUse => Refusal::Taken,
                    e => Refusal::other(e),
                }),
            Err(e) => Err(Refusal::other(e)),
        }
    }

    pub async fn unmap(&self, m: &Mapping, external_port: u16) -> Result<(), UpnpError> {
        Ok(self
            .gateway
            .remove_port(protocol(m.protocol), external_port)
            .await?)
    }
}
