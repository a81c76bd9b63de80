use ablate::models::fetch::KnownModel;
use anyhow::{Result, bail};
use clap::Args;

#[derive(Args)]
pub struct FetchArgs {
    /// Alias of the model.
    model: String,
}

pub fn fetch(a: FetchArgs) -> Result<()> {
    let Some(known) = KnownModel::by_alias(&a.model) else {
        bail!(
            "no known model `{}` (known: {})",
            a.model,
            KnownModel::aliases().join(", ")
        )
    };
    let path = known.fetch()?;
    println!("{}: {} ({})", known.alias, path.display(), known.note);
    for t in known.terms_paths() {
        println!("  the weights come under the terms in {}", t.display());
    }
    Ok(())
}
