//! The config file exactly as written: strict serde types with source locations.
//! `config::load` turns these into checked [`crate::profile::Profile`]s.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::interface::Interface;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub default_profile: Option<Spanned<String>>,
    pub headless: Option<bool>,
    pub focus: Option<bool>,
    pub detach_after: Option<Spanned<String>>,
    pub profiles: IndexMap<String, Spanned<RawProfile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub command: Spanned<String>,
    pub interface: Option<Interface>,
    pub args: Option<Spanned<Vec<String>>>,
    pub env: Option<IndexMap<String, Spanned<RawEnvValue>>>,
    pub prompt: Option<RawDelivery>,
    pub headless: Option<bool>,
    pub timeout: Option<Spanned<String>>,
    pub detach_after: Option<Spanned<String>>,
    pub focus: Option<bool>,
    pub trust_workspace: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawDelivery {
    Argument,
    Stdin,
    PromptFileArg,
}

/// An `env` value: a string, number or bool literal, or `{from_env: NAME}`.
#[derive(Debug)]
pub enum RawEnvValue {
    Literal(String),
    FromEnv(String),
}

impl<'de> Deserialize<'de> for RawEnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvValueVisitor)
    }
}

struct EnvValueVisitor;

impl<'de> Visitor<'de> for EnvValueVisitor {
    type Value = RawEnvValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or bool, or {from_env: NAME}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(RawEnvValue::Literal(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(
            "empty value (expected a string, number or bool, or {from_env: NAME})",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "from_env" {
                return Err(de::Error::custom(format!(
                    "unknown key \"{key}\" (expected {{from_env: NAME}})"
                )));
            }
            name = Some(map.next_value()?);
        }
        name.map(RawEnvValue::FromEnv)
            .ok_or_else(|| de::Error::custom("expected {from_env: NAME}"))
    }
}
