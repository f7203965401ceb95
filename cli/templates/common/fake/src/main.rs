//! Runs the fake service until stopped: `cargo run -p {{crate}}-fake -- [ADDR]` prints its
//! address, the plugin's `endpoint.api` (see the README for what to do with it).

fn main() -> std::process::ExitCode {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    match {{crate_ident}}_fake::start_on(&addr) {
        Ok(running) => {
            println!("{}", running.url());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
