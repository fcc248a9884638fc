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
    // SAFETY: the caller promises what `read_text` needs.
    unsafe { read_text(text, MAX_STRING_UNITS) }
}

/// Reads a NUL-terminated UTF-16 string of at most `max_units` units; `None` if null, longer
/// or not valid UTF-16.
///
/// # Safety
/// `text` is null or points to a NUL-terminated array of `u16`.
pub(crate) unsafe fn read_text(text: PCWSTR, max_units: usize) -> Option<String> {
    if text.is_null() {
        return None;
    }
    let mut units = Vec::new();
    loop {
        // SAFETY: the caller promises a NUL-terminated array; this reads up to its NUL (or stops
        // at `max_units`), never past it.
        let unit = unsafe { *text.add(units.len()) };
        if unit == 0 {
            break;
        }
        if units.len() == max_units {
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

/// FILETIME's intervals from 1601-01-01 to the Unix epoch.
const UNIX_EPOCH_FILETIME: u64 = 116_444_736_000_000_000;

/// `time` as a `FILETIME` (0 for a time before 1601, the largest for one past its range).
pub(crate) fn filetime(time: std::time::SystemTime) -> FILETIME {
    let intervals = match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => u64::try_from(after.as_nanos() / 100)
            .ok()
            .and_then(|ticks| ticks.checked_add(UNIX_EPOCH_FILETIME))
            .unwrap_or(u64::MAX),
        Err(before) => u64::try_from(before.duration().as_nanos() / 100)
            .map_or(0, |ticks| UNIX_EPOCH_FILETIME.saturating_sub(ticks)),
    };
    FILETIME {
        dwLowDateTime: intervals as u32,
        dwHighDateTime: (intervals >> 32) as u32,
    }
}

/// The time a `FILETIME` names; the Unix epoch for one at or before it (never a valid expiry).
pub(crate) fn system_time(time: FILETIME) -> std::time::SystemTime {
    let intervals = u64::from(time.dwHighDateTime) << 32 | u64::from(time.dwLowDateTime);
    let since_epoch = intervals.saturating_sub(UNIX_EPOCH_FILETIME);
    std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(since_epoch / 10_000_000)
        + std::time::Duration::from_nanos(since_epoch % 10_000_000 * 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn filetimes_count_100_ns_from_1601() {
        let epoch = filetime(UNIX_EPOCH);
        assert_eq!(
            u64::from(epoch.dwHighDateTime) << 32 | u64::from(epoch.dwLowDateTime),
            UNIX_EPOCH_FILETIME
        );
        let later = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_700);
        assert_eq!(system_time(filetime(later)), later);
        assert_eq!(system_time(FILETIME::default()), UNIX_EPOCH);
        assert_eq!(
            filetime(UNIX_EPOCH - Duration::from_secs(1)).dwLowDateTime,
            { (UNIX_EPOCH_FILETIME - 10_000_000) as u32 }
        );
    }
}
