//! The roles an account may hold: the kit's, which every service authorises on.

pub use sportello_kit::Role;
