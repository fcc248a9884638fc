//! Reading what C hands in (strings, addresses, the secret) and writing what goes back.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::abi::*;

/// The longest string read from C, in UTF-16 units: longer is `E_INVALIDARG`.
const MAX_STRING_UNITS: usize = 4096;

/// Reads a NUL-terminated UTF-16 string; `None` if null, longer than [`MAX_STRING_UNITS`] or
/// not valid UTF-16.
///
/// # Safety
/// `text` is null or points to a NUL-terminated array of `u16`.
pub(crate) unsafe fn read_string(text: PCWSTR) -> Option<String> {
    if text.is_null() {
        return None;
    }
    let mut units = Vec::new();
    loop {
        // SAFETY: the caller promises a NUL-terminated array; this reads up to its NUL (or stops
        // at MAX_STRING_UNITS), never past it.
        let unit = unsafe { *text.add(units.len()) };
        if unit == 0 {
            break;
        }
        if units.len() == MAX_STRING_UNITS {
            return None;
        }
        units.push(unit);
    }
    String::from_utf16(&units).ok()
}

/// `address` as a socket address; `None` unless `dwSize` and the family are right.
pub(crate) fn socket_addr(address: &PEER_ADDRESS) -> Option<SocketAddr> {
    if address.dwSize as usize != size_of::<PEER_ADDRESS>()
        || i32::from(address.sin6.sin6_family) != libc::AF_INET6
    {
        return None;
    }
    let ip = Ipv6Addr::from(address.sin6.sin6_addr);
    let port = u16::from_be(address.sin6.sin6_port);
    Some(match ip.to_ipv4_mapped() {
        Some(v4) => SocketAddr::from((v4, port)),
        None => SocketAddr::V6(SocketAddrV6::new(
            ip,
            port,
            u32::from_be(address.sin6.sin6_flowinfo),
            address.sin6.sin6_scope_id,
        )),
    })
}

/// `addr` as a `PEER_ADDRESS` (an IPv4 address mapped into IPv6).
pub(crate) fn peer_address(addr: SocketAddr) -> PEER_ADDRESS {
    let (ip, scope_id) = match addr {
        SocketAddr::V4(v4) => (v4.ip().to_ipv6_mapped(), 0),
        SocketAddr::V6(v6) => (*v6.ip(), v6.scope_id()),
    };
    PEER_ADDRESS {
        dwSize: size_of::<PEER_ADDRESS>() as DWORD,
        sin6: SOCKADDR_IN6 {
            sin6_family: libc::AF_INET6 as u16,
            sin6_port: addr.port().to_be(),
            sin6_flowinfo: 0,
            sin6_addr: ip.octets(),
            sin6_scope_id: scope_id,
        },
    }
}

/// The secret in a security interface; `Err` for a bad `dwSize` or a provider (unsupported).
///
/// # Safety
/// `security` is null or points to a `PEER_SECURITY_INTERFACE` whose `pbSecurityInfo` holds
/// `cbSecurityInfo` readable bytes.
pub(crate) unsafe fn read_secret(
    security: *const PEER_SECURITY_INTERFACE,
) -> Result<Option<Vec<u8>>, ()> {
    if security.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, and the caller promises it points to the structure.
    let security = unsafe { &*security };
    let provider = !security.pwzSspFilename.is_null()
        || !security.pwzPackageName.is_null()
        || !security.pfnValidateRecord.is_null()
        || !security.pfnSecureRecord.is_null()
        || !security.pfnFreeSecurityData.is_null()
        || !security.pfnAuthFailed.is_null();
    if security.dwSize as usize != size_of::<PEER_SECURITY_INTERFACE>() || provider {
        return Err(());
    }
    if security.cbSecurityInfo == 0 {
        return Ok(None);
    }
    if security.pbSecurityInfo.is_null() {
        return Err(());
    }
    // SAFETY: the caller promises `cbSecurityInfo` readable bytes at `pbSecurityInfo`.
    let secret = unsafe {
        std::slice::from_raw_parts(security.pbSecurityInfo, security.cbSecurityInfo as usize)
    };
    Ok(Some(secret.to_vec()))
}

/// Writes `value` through `out`.
///
/// # Safety
/// `out` is non-null and points to writable memory for a `T`.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: the caller promises a writable, non-null pointer.
    unsafe { out.write(value) };
}
