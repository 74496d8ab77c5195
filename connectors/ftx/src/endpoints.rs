//! FTX endpoints keyrevoke calls: none. The API has been down since the
//! exchange's collapse in November 2022.
