//! FTX signing: nothing is signed, since no request is ever sent.
