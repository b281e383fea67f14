//! An enum whose variants have names — in `run.json`, on the command line, in messages —
//! written once: `names!` declares the enum with each variant's name, and gives it
//! serde's renames, `as_str`, `parse` and `ALL` from that one list (hand-written
//! tables beside `#[serde(rename_all)]` drifted apart).

/// `names! { #[derive(..., Serialize, Deserialize)] pub enum E { A = "a", B = "b" } }`.
/// The derives must include serde's: each variant gets `#[serde(rename = NAME)]`.
macro_rules! names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        #[allow(dead_code)] // not every enum needs every one
        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The variant's name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// The variant named `s`, if any.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use names;

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    names! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        enum Colour {
            /// A doc comment is kept.
            DeepRed = "deep_red",
            Blue = "blue",
        }
    }

    #[test]
    fn one_name_serves_serde_as_str_and_parse() {
        for &c in Colour::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(Colour::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::from_str::<Colour>(&json).unwrap(), c);
        }
        assert_eq!(Colour::DeepRed.as_str(), "deep_red");
        assert_eq!(Colour::parse("red"), None);
    }
}
