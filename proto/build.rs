//! Compiles every `.proto` under `sportello/` into Rust, plus one descriptor set that the
//! services serve through gRPC reflection.
//!
//! A fresh machine has no `protoc`: the vendored one is used unless `$PROTOC` names another.

use std::{env, io, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let mut protos = Vec::new();
    collect_protos(&root.join("sportello"), &mut protos)?;
    protos.sort();

    // tonic-prost-build 0.14 ignores its own rerun setting, so say it here.
    println!("cargo:rerun-if-changed=sportello");
    println!("cargo:rerun-if-env-changed=PROTOC");
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }

    let protoc = match env::var_os("PROTOC") {
        Some(path) => PathBuf::from(path),
        None => protoc_bin_vendored::protoc_bin_path()?,
    };
    let well_known = protoc_bin_vendored::include_path()?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let mut config = prost_build::Config::new();
    config
        .protoc_executable(protoc)
        .enable_type_names()
        .include_file("_includes.rs")
        .file_descriptor_set_path(out_dir.join("sportello_descriptor.bin"));

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &protos, &[root, well_known])?;
    Ok(())
}

fn collect_protos(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
