pub mod env;
pub mod storage;
