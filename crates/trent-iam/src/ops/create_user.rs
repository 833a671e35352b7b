use super::{path_param, user_name, user_xml, Out};
use crate::model::{UserRecord, T_USER};
use crate::{Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = user_name(p)?;
    let path = path_param(p)?;
    let mut tx = iam.write()?;
    if Iam::get_in::<UserRecord>(&mut *tx, T_USER, c.account(), name)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!("User with name {name} already exists.")));
    }
    let id = crate::credentials::random_id("AIDA", 17).map_err(IamError::internal)?;
    let u = UserRecord {
        name: name.to_string(),
        path,
        id,
        created_ms: iam.now_ms(),
        inline: Default::default(),
        attached: Vec::new(),
    };
    Iam::put_in(&mut *tx, T_USER, c.account(), name, &u)?;
    tx.commit()?;
    let mut w = XmlWriter::new();
    w.node("User", |w| user_xml(w, c, &u));
    Ok(Some(w))
}
