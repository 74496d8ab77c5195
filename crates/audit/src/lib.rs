//! Hash-chained, optionally HMAC-signed JSON Lines audit trail and its verifier.
