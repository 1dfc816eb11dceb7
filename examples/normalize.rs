//! Prints the normalised text of web scripts, as the built-in rules see it beside the raw bytes
//! (`deadbox_form == "normalised"`): `cargo run --example normalize -- FILE...`.

fn main() {
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Ok(data) => {
                println!("==> {path}");
                let text = deadbox::scan::normalize::normalize(&data);
                println!("{}", String::from_utf8_lossy(&text));
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
