//! NAT-PMP (RFC 6886) and PCP (RFC 6887) on the default gateway, through crab_nat: PCP
//! first, NAT-PMP when the router speaks only that. Answers are fixed-size packets the
//! crate checks field by field.
//!
//! Each mapping the router gave is kept and renewed as itself, and removed the way it was
//! made: PCP ties a mapping to the nonce it was made with, and RFC 6887 (11.3) lets a
//! router refuse a request with another nonce for a port it holds. (miniupnpd 2.3 does
//! not check, so the tests cannot show the difference; a stricter router would refuse
//! every renewal made afresh.)

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    num::NonZeroU16,
    sync::Mutex,
    time::Duration,
};

use crab_nat::{
    natpmp, InternetProtocol, PortMapping, PortMappingOptions, PortMappingType, TimeoutConfig,
};

use super::{is_lan, local_addr_towards, Granted, Mapping, Protocol, Refusal};

/// Short waits: the gateway is one hop away.
const TIMEOUTS: TimeoutConfig = TimeoutConfig {
    initial_timeout: Duration::from_millis(250),
    max_retries: 3,
    max_retry_timeout: Some(Duration::from_secs(1)),
};

#[derive(Debug, thiserror::Error)]
pub enum PmpError {
    #[error("the default gateway {0} is not on the local network")]
    NotLan(Ipv4Addr),
    #[error("no address towards the router: {0}")]
    Local(#[from] std::io::Error),
    #[error("{0}")]
    Pmp(#[from] natpmp::Failure),
    #[error("{0}")]
    Mapping(#[from] crab_nat::MappingFailure),
}

pub struct Gateway {
    gateway: Ipv4Addr,
    local: IpAddr,
    /// The mappings the router gave, by protocol and internal port.
    held: Mutex<HashMap<(Protocol, u16), PortMapping>>,
}

fn protocol(p: Protocol) -> InternetProtocol {
    match p {
        Protocol::Tcp => InternetProtocol::Tcp,
        Protocol::Udp => InternetProtocol::Udp,
    }
}

impl Gateway {
    /// The gateway, if it answers NAT-PMP's external address request.
    pub async fn probe(gateway: Ipv4Addr) -> Result<Gateway, PmpError> {
        if !is_lan(gateway.into()) {
            return Err(PmpError::NotLan(gateway));
        }
        natpmp::external_address(gateway.into(), Some(TIMEOUTS)).await?;
        let local = local_addr_towards(gateway.into())?;
        Ok(Gateway {
            gateway,
            local,
            held: Mutex::default(),
        })
    }

    pub fn addr(&self) -> IpAddr {
        self.gateway.into()
    }

    /// Whether the router answered in PCP (else NAT-PMP, or nothing mapped yet).
    pub fn speaks_pcp(&self) -> bool {
        self.held()
            .values()
            .any(|m| matches!(m.mapping_type(), PortMappingType::Pcp { .. }))
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<(Protocol, u16), PortMapping>> {
        // A panic elsewhere while it was held leaves a map that is still whole.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn local(&self) -> IpAddr {
        self.local
    }

    pub async fn external_ip(&self) -> Option<IpAddr> {
        natpmp::external_address(self.gateway.into(), Some(TIMEOUTS))
            .await
            .ok()
            .map(IpAddr::V4)
    }

    /// Renews the mapping of `m` the router gave before, or asks for it for `lease`; the
    /// router may give another external port or a shorter lease, which are reported.
    pub async fn map(&self, m: &Mapping, lease: Duration) -> Result<Granted, Refusal> {
        let Some(internal) = NonZeroU16::new(m.internal_port) else {
            return Err(Refusal::other("port 0"));
        };
        let key = (m.protocol, m.internal_port);
        let before = self.held().remove(&key);
        let mapped = match before {
            Some(mut mapping) => match mapping.renew().await {
                Ok(()) => Ok(mapping),
                // The router forgot it (restarted): ask again.
                Err(e) => {
                    tracing::debug!(port = m.internal_port, "renewal refused, asking again: {e}");
                    self.ask(m, internal, lease).await
                }
            },
            None => self.ask(m, internal, lease).await,
        };
        match mapped {
            Ok(mapping) => {
                let granted = Granted {
                    external_port: mapping.external_port().get(),
                    lease: Duration::from_secs(mapping.lifetime().into()),
                };
                self.held().insert(key, mapping);
                Ok(granted)
            }
            Err(crab_nat::MappingFailure::NatPmp(natpmp::Failure::NotAuthorized)) => {
                Err(Refusal::NotAllowed)
            }
            Err(crab_nat::MappingFailure::Pcp(crab_nat::pcp::Failure::NotAuthorized(_))) => {
                Err(Refusal::NotAllowed)
            }
            Err(e) => Err(Refusal::other(e)),
        }
    }

    async fn ask(
        &self,
        m: &Mapping,
        internal: NonZeroU16,
        lease: Duration,
    ) -> Result<PortMapping, crab_nat::MappingFailure> {
        let options = PortMappingOptions {
            external_port: NonZeroU16::new(m.external_port),
            lifetime_seconds: Some(u32::try_from(lease.as_secs()).unwrap_or(u32::MAX)),
            timeout_config: Some(TIMEOUTS),
        };
        PortMapping::new(
            self.gateway.into(),
            self.local,
            protocol(m.protocol),
            internal,
            options,
        )
        .await
    }

    /// Removes the box's mapping of `m`, the way it was made.
    pub async fn unmap(&self, m: &Mapping) -> Result<(), PmpError> {
        let Some(mapping) = self.held().remove(&(m.protocol, m.internal_port)) else {
            return Ok(());
        };
        mapping.try_drop().await.map_err(|(e, _)| PmpError::from(e))
    }
}
