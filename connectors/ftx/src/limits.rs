//! FTX rate limits: none apply, since no request is ever sent.

use keyrevoke_core::Tier;

pub static TIERS: [Tier; 0] = [];
