//! FTX error codes: none are met, since no request is ever sent.
