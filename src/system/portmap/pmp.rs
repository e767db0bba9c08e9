//! NAT-PMP (RFC 6886) and PCP (RFC 6887) on the default gateway, through crab_nat: PCP
//! first, NAT-PMP when the router speaks only that. Answers are fixed-size packets the
//! crate checks field by field.

use std::{
    net::{IpAddr, Ipv4Addr},
    num::NonZeroU16,
    time::Duration,
};

use crab_nat::{natpmp, InternetProtocol, PortMapping, PortMappingOptions, TimeoutConfig};

use super::{is_lan, local_addr_towards, Mapping, Protocol, Refusal, LEASE};

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
        Ok(Gateway { gateway, local })
    }

    pub fn addr(&self) -> IpAddr {
        self.gateway.into()
    }

    pub async fn external_ip(&self) -> Option<IpAddr> {
        natpmp::external_address(self.gateway.into(), Some(TIMEOUTS))
            .await
            .ok()
            .map(IpAddr::V4)
    }

    /// Asks for `m`; the router may give another external port, which is reported.
    pub async fn map(&self, m: &Mapping) -> Result<u16, Refusal> {
        let Some(internal) = NonZeroU16::new(m.internal_port) else {
            return Err(Refusal::other("port 0"));
        };
        let options = PortMappingOptions {
            external_port: NonZeroU16::new(m.external_port),
            lifetime_seconds: Some(LEASE.as_secs() as u32),
            timeout_config: Some(TIMEOUTS),
        };
        let mapped = PortMapping::new(
            self.gateway.into(),
            self.local,
            protocol(m.protocol),
            internal,
            options,
        )
        .await;
        match mapped {
            Ok(mapping) => Ok(mapping.external_port().get()),
            Err(crab_nat::MappingFailure::NatPmp(natpmp::Failure::NotAuthorized)) => {
                Err(Refusal::NotAllowed)
            }
            Err(crab_nat::MappingFailure::Pcp(crab_nat::pcp::Failure::NotAuthorized(_))) => {
                Err(Refusal::NotAllowed)
            }
            Err(e) => Err(Refusal::other(e)),
        }
    }

    /// Removes the box's mapping of `m`'s internal port.
    pub async fn unmap(&self, m: &Mapping) -> Result<(), PmpError> {
        let internal = NonZeroU16::new(m.internal_port);
        natpmp::try_drop_mapping(
            self.gateway.into(),
            protocol(m.protocol),
            internal,
            Some(TIMEOUTS),
        )
        .await?;
        Ok(())
    }
}
