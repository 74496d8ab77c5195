//! Bybit (v5) connector for keyrevoke.
