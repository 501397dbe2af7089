//! The built-in Dentally sandbox (temporary shim until the sandbox branch merges).
#![allow(missing_docs, dead_code)]
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    pub scale: f64,
}
pub struct SandboxHandle;
impl SandboxHandle {
    pub fn base_url(&self) -> String {
        String::new()
    }
    pub fn shutdown(self) {}
}
pub async fn spawn(_c: SandboxConfig) -> std::io::Result<SandboxHandle> {
    Err(std::io::Error::other("shim"))
}
pub mod cli {
    #[derive(Debug, clap::Args)]
    pub struct SandboxArgs {}
    pub async fn run(_a: SandboxArgs) -> anyhow::Result<()> {
        anyhow::bail!("shim")
    }
}
