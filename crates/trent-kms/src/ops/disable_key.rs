use super::enable_key::set_state;
use super::Empty;
use crate::model::KeyState;
use crate::{Caller, Kms, KmsError};

pub use super::enable_key::Request;

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    set_state(kms, caller, &req.key_id, KeyState::Disabled)
}
