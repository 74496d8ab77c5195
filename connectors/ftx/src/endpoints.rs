//! FTX endpoints keyrevoke calls: none. The API has been down since the
//! exchange's collapse in November 2022.

use keyrevoke_core::endpoint::Endpoint;

/// The endpoint table every connector declares; FTX's is empty.
pub static ENDPOINTS: [&Endpoint; 0] = [];
