//! Records as the wire and the database carry them: a `SignedRecord` around an encoded
//! `Record`, made and checked here.

use bytes::Bytes;
use peergraph_proto::v1 as wire;
use prost::Message;

use super::signing::{self, AUTHOR_KEY_LEN, SIGNATURE_LEN, Signer};
use super::{
    Attribute, AttributeValue, Entry, MAX_ATTRIBUTE_NAME_LEN, MAX_ATTRIBUTES, Record, RecordId,
    from_ms,
};

/// Why a signed record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Not a well-formed `SignedRecord` around a well-formed `Record`.
    Malformed,
    /// Its id is not bound to the key that signed it.
    WrongAuthor,
    /// Larger than this node's `max_record_size`.
    TooLarge,
}

/// The fields of a version the author is about to sign.
pub(crate) struct Unsigned<'a> {
    pub(crate) record_type: [u8; 16],
    pub(crate) nonce: u64,
    pub(crate) version: u32,
    pub(crate) deleted: bool,
    pub(crate) creator_id: &'a str,
    pub(crate) modified_by_id: &'a str,
    pub(crate) created_ms: u64,
    pub(crate) modified_ms: u64,
    pub(crate) expires_ms: u64,
    pub(crate) attributes: &'a [Attribute],
    pub(crate) data: Bytes,
}

impl Unsigned<'_> {
    /// The encoded `Record` this version would be, without signing it (its size is what
    /// `max_record_size` bounds).
    pub(crate) fn encode(&self, signer: &Signer) -> Vec<u8> {
        let id = signing::record_id(&signer.identity(), self.nonce);
        wire::Record {
            type_id: Bytes::copy_from_slice(&self.record_type),
            id: Bytes::copy_from_slice(&id.0),
            nonce: self.nonce,
            version: self.version,
            deleted: self.deleted,
            creator_id: self.creator_id.to_owned(),
            modified_by_id: self.modified_by_id.to_owned(),
            created_ms: self.created_ms,
            modified_ms: self.modified_ms,
            expires_ms: self.expires_ms,
            attributes: self.attributes.iter().map(attribute_to_wire).collect(),
            data: self.data.clone(),
        }
        .encode_to_vec()
    }
}

/// Signs an encoded `Record` for `graph_id`; returns the `SignedRecord`'s bytes.
pub(crate) fn sign(signer: &Signer, graph_id: &str, record: Vec<u8>) -> Bytes {
    let signature = signer.sign(graph_id, &record);
    Bytes::from(
        wire::SignedRecord {
            record: Bytes::from(record),
            author_key: Bytes::copy_from_slice(signer.author_key()),
            signature: Bytes::from(signature),
        }
        .encode_to_vec(),
    )
}

/// Reads a `SignedRecord` without checking its signature (see [`verify`]); the decoded data
/// shares `signed`'s buffer.
pub(crate) fn decode_signed(signed: Bytes, max_record_size: usize) -> Result<Entry, DecodeError> {
    let envelope =
        wire::SignedRecord::decode(signed.clone()).map_err(|_| DecodeError::Malformed)?;
    if envelope.author_key.len() != AUTHOR_KEY_LEN || envelope.signature.len() != SIGNATURE_LEN {
        return Err(DecodeError::Malformed);
    }
    if envelope.record.len() > max_record_size {
        return Err(DecodeError::TooLarge);
    }
    let digest = signing::digest16(&envelope.record);
    let record = wire::Record::decode(envelope.record).map_err(|_| DecodeError::Malformed)?;
    let author = signing::identity_of(&envelope.author_key);
    let id = RecordId(
        record
            .id
            .as_ref()
            .try_into()
            .map_err(|_| DecodeError::Malformed)?,
    );
    if id != signing::record_id(&author, record.nonce) {
        return Err(DecodeError::WrongAuthor);
    }
    let record_type = record
        .type_id
        .as_ref()
        .try_into()
        .map_err(|_| DecodeError::Malformed)?;
    let attributes = record
        .attributes
        .into_iter()
        .map(attribute_from_wire)
        .collect::<Option<Vec<_>>>()
        .ok_or(DecodeError::Malformed)?;
    let well_formed = record.version >= 1
        && crate::codec::valid_name(&record.creator_id)
        && crate::codec::valid_name(&record.modified_by_id)
        && valid_attributes(&attributes)
        && (!record.deleted || (attributes.is_empty() && record.data.is_empty()));
    if !well_formed {
        return Err(DecodeError::Malformed);
    }
    Ok(Entry {
        record: Record {
            record_type,
            id,
            version: record.version,
            creator_id: record.creator_id,
            modified_by_id: record.modified_by_id,
            author,
            created_at: from_ms(record.created_ms),
            modified_at: from_ms(record.modified_ms),
            expires_at: from_ms(record.expires_ms),
            attributes,
            data: record.data,
        },
        signed,
        deleted: record.deleted,
        expires_ms: record.expires_ms,
        modified_ms: record.modified_ms,
        nonce: record.nonce,
        digest,
    })
}

/// Whether `entry`'s signature is its author's, for `graph_id`.
pub(crate) fn verify(graph_id: &str, entry: &Entry) -> bool {
    wire::SignedRecord::decode(entry.signed.clone()).is_ok_and(|envelope| {
        signing::verify(
            graph_id,
            &envelope.author_key,
            &envelope.record,
            &envelope.signature,
        )
    })
}

/// Whether attributes are within bounds, named validly and uniquely.
pub(crate) fn valid_attributes(attributes: &[Attribute]) -> bool {
    attributes.len() <= MAX_ATTRIBUTES
        && attributes.iter().enumerate().all(|(index, attribute)| {
            valid_attribute_name(&attribute.name)
                && !attributes[..index]
                    .iter()
                    .any(|other| other.name == attribute.name)
        })
}

fn valid_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_ATTRIBUTE_NAME_LEN && !name.chars().any(char::is_control)
}

fn attribute_to_wire(attribute: &Attribute) -> wire::Attribute {
    use wire::attribute::Value;
    wire::Attribute {
        name: attribute.name.clone(),
        value: Some(match &attribute.value {
            AttributeValue::Text(text) => Value::Text(text.clone()),
            AttributeValue::Integer(integer) => Value::Integer(*integer),
        }),
    }
}

fn attribute_from_wire(attribute: wire::Attribute) -> Option<Attribute> {
    use wire::attribute::Value;
    Some(Attribute {
        name: attribute.name,
        value: match attribute.value? {
            Value::Text(text) => AttributeValue::Text(text),
            Value::Integer(integer) => AttributeValue::Integer(integer),
        },
    })
}
