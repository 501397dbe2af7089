mod common;
mod sandbox;
