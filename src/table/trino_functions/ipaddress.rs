//! Trino's `IPADDRESS` and the `contains` that takes it, as Athena users test source addresses:
//! `CAST(sourceipaddress AS IPADDRESS)` (rewritten to `ipaddress(...)` by
//! [`super::super::trino_forms`]), `IPADDRESS '10.0.0.0'`, comparisons between them, and
//! `contains('10.0.0.0/8', ip)`.
//!
//! An address is held as Trino holds it: 16 bytes, IPv4 as its IPv4-mapped IPv6 form, so
//! comparisons order addresses numerically. `contains` also keeps Trino's array membership
//! (`contains(ARRAY['a', 'b'], x)`) and DataFusion's substring test on two texts.

use std::net::IpAddr;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::functions_nested::array_has::array_has_udf;

use super::over_arrays;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub fn udfs() -> Vec<ScalarUDF> {
    let signature = || Signature::user_defined(Volatility::Immutable);
    vec![
        ScalarUDF::new_from_impl(IpAddress {
            name: "ipaddress",
            signature: signature(),
        }),
        ScalarUDF::new_from_impl(IpAddress {
            name: "try_ipaddress",
            signature: signature(),
        }),
        ScalarUDF::new_from_impl(Contains {
            signature: signature(),
        }),
    ]
}

/// A network: its 16-byte address and a prefix length over 128 bits.
pub(in crate::table) type Network = ([u8; 16], u32);

/// An address as Trino's 16 bytes.
pub(in crate::table) fn address_bytes(text: &str) -> Option<[u8; 16]> {
    let ip: IpAddr = text.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    })
}

/// `a.b.c.d/n` or an IPv6 prefix, as the 16-byte network and a prefix length over 128 bits.
pub(in crate::table) fn prefix(text: &str) -> Option<Network> {
    let (address, length) = text.trim().split_once('/')?;
    let ip: IpAddr = address.parse().ok()?;
    let length: u32 = length.parse().ok()?;
    match ip {
        IpAddr::V4(v4) if length <= 32 => Some((v4.to_ipv6_mapped().octets(), 96 + length)),
        IpAddr::V6(v6) if length <= 128 => Some((v6.octets(), length)),
        _ => None,
    }
}

pub(in crate::table) fn within(network: &Network, address: &[u8; 16]) -> bool {
    let mask = |bits: u32| -> u128 {
        if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        }
    };
    let net = u128::from_be_bytes(network.0);
    let ip = u128::from_be_bytes(*address);
    (net & mask(network.1)) == (ip & mask(network.1))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IpAddress {
    name: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for IpAddress {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Binary] => Ok(vec![DataType::Binary]),
            [_] => Ok(vec![DataType::Utf8]),
            _ => plan_err!("{} takes 1 argument, not {}", self.name, arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args[0].data_type() == DataType::Binary {
            return Ok(args.args[0].clone());
        }
        over_arrays(&args, |arrays| {
            let texts = arrays[0].as_string::<i32>();
            let mut out = BinaryBuilder::with_capacity(texts.len(), texts.len() * 16);
            for text in texts.iter() {
                match text.map(|t| (t, address_bytes(t))) {
                    None => out.append_null(),
                    Some((_, Some(bytes))) => out.append_value(bytes),
                    Some((_, None)) if self.name == "try_ipaddress" => out.append_null(),
                    Some((t, None)) => {
                        return exec_err!(
                            "Cannot cast value to IPADDRESS: '{t}' (try(CAST(... AS IPADDRESS)) gives NULL instead)"
                        );
                    }
                }
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Contains {
    signature: Signature,
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
    )
}

impl ScalarUDFImpl for Contains {
    fn name(&self) -> &str {
        "contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [list @ DataType::List(item), _] => Ok(vec![list.clone(), item.data_type().clone()]),
            [a, DataType::Binary] if is_text(a) => Ok(vec![DataType::Utf8, DataType::Binary]),
            [a, b] if is_text(a) && is_text(b) => Ok(vec![DataType::Utf8, DataType::Utf8]),
            [a, b] => plan_err!(
                "contains takes an array and an element, a network ('10.0.0.0/8') and an IPADDRESS, or two texts; not {a} and {b}"
            ),
            _ => plan_err!("contains takes 2 arguments, not {}", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if matches!(args.args[0].data_type(), DataType::List(_)) {
            return array_has_udf().invoke_with_args(args);
        }
        over_arrays(&args, contains_address)
    }
}

/// `contains(network, address)` row by row; two texts that are not those, a substring test.
fn contains_address(arrays: &[ArrayRef]) -> Result<ArrayRef> {
    let networks = arrays[0].as_string::<i32>();
    let binary = arrays[1].data_type() == &DataType::Binary;
    let addresses = cast(&arrays[1], &DataType::Binary)?;
    let addresses = addresses.as_binary::<i32>();
    let texts = if binary {
        None
    } else {
        Some(arrays[1].as_string::<i32>())
    };
    let mut out = BooleanBuilder::with_capacity(networks.len());
    // The network is nearly always one constant: parse it once.
    let mut last: Option<(&str, Option<Network>)> = None;
    for row in 0..networks.len() {
        if networks.is_null(row) || addresses.is_null(row) {
            out.append_null();
            continue;
        }
        let network = networks.value(row);
        if last.as_ref().is_none_or(|(n, _)| *n != network) {
            last = Some((network, prefix(network)));
        }
        let parsed = last.as_ref().and_then(|(_, p)| p.as_ref());
        let address: Option<[u8; 16]> = match texts {
            None => addresses.value(row).try_into().ok(),
            Some(texts) => address_bytes(texts.value(row)),
        };
        match (parsed, address, texts) {
            (Some(net), Some(ip), _) => out.append_value(within(net, &ip)),
            // Two texts that are not a network and an address: DataFusion's substring test.
            (_, _, Some(texts)) => out.append_value(network.contains(texts.value(row))),
            (None, _, None) => {
                return exec_err!("contains: '{network}' is not a network such as '10.0.0.0/8'");
            }
            (Some(_), None, None) => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let net = prefix("10.0.0.0/8").unwrap();
        assert!(within(&net, &address_bytes("10.255.1.2").unwrap()));
        assert!(!within(&net, &address_bytes("11.0.0.1").unwrap()));
        let all = prefix("0.0.0.0/0").unwrap();
        assert!(within(&all, &address_bytes("192.168.1.1").unwrap()));
        let v6 = prefix("2001:db8::/32").unwrap();
        assert!(within(&v6, &address_bytes("2001:db8::1").unwrap()));
        assert!(!within(&v6, &address_bytes("2001:db9::1").unwrap()));
        assert!(prefix("10.0.0.0/33").is_none());
        assert!(address_bytes("AWS Internal").is_none());
    }

    #[test]
    fn addresses_order_numerically() {
        assert!(address_bytes("9.0.0.1").unwrap() < address_bytes("10.0.0.1").unwrap());
        assert_eq!(
            Ipv6Addr::from(address_bytes("1.2.3.4").unwrap()).to_string(),
            "::ffff:1.2.3.4"
        );
    }
}
