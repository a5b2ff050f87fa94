//! How a person is identified at a desk: by card or by insurance number.

use super::base::PersonRow;
use dx_model::event::Event;
use dx_model::rng::Stream;

/// The identification a desk uses: the card if the person holds a registered one and uses it
/// here, otherwise the insurance number.
pub fn identify(person: &PersonRow, card_use: f64, rng: &mut Stream) -> Ident {
    match (&person.card_serial, &person.insurance) {
        (Some(card), _) if rng.chance(card_use) => Ident::Card(card.clone()),
        (_, Some(ins)) => Ident::Number(ins.clone()),
        (Some(card), None) => Ident::Card(card.clone()),
        (None, None) => Ident::None,
    }
}

/// How a person is identified at a desk.
#[derive(Debug, Clone, PartialEq)]
pub enum Ident {
    Card(String),
    Number([String; 4]),
    /// Neither a registered card nor an insurance number (public assistance only): no online
    /// check is possible.
    None,
}

impl Ident {
    pub fn apply(&self, e: &mut Event) {
        match self {
            Ident::Card(c) => e.card_serial = Some(c.clone()),
            Ident::Number(k) => e.insurance = Some(k.clone()),
            Ident::None => {}
        }
    }
}
