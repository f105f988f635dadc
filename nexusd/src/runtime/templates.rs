//! The built-in workspace templates (`templates/` of the source tree),
//! embedded in the daemon: each a devcontainer.json and the Dockerfile of
//! the image it names, built by the daemon when missing. `default` is used
//! when a repository has no devcontainer.json and no image is given; any of
//! them with `nexus workspace create --template NAME`.

use super::{Result, RuntimeError};

/// One built-in template.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// Its name (`--template NAME`).
    pub name: &'static str,
    /// One line on what it holds.
    pub description: &'static str,
    /// Its devcontainer.json.
    pub devcontainer_json: &'static str,
    /// The Dockerfile of its image.
    pub dockerfile: &'static str,
    /// The image its devcontainer.json names (built from `dockerfile`).
    pub image: &'static str,
}

/// Every built-in template; the first is the default.
pub const TEMPLATES: [Template; 3] = [
    Template {
        name: "default",
        description: "Debian bookworm with bash, git, sudo, curl, the OpenSSH client, rsync and the user dev",
        devcontainer_json: include_str!("../../../templates/default/devcontainer.json"),
        dockerfile: include_str!("../../../templates/default/Dockerfile"),
        image: "nexus/default:bookworm",
    },
    Template {
        name: "python",
        description: "the default template with Python 3, pip and venv",
        devcontainer_json: include_str!("../../../templates/python/devcontainer.json"),
        dockerfile: include_str!("../../../templates/python/Dockerfile"),
        image: "nexus/python:bookworm",
    },
    Template {
        name: "node",
        description: "the default template with Node.js and npm; port 3000 forwarded",
        devcontainer_json: include_str!("../../../templates/node/devcontainer.json"),
        dockerfile: include_str!("../../../templates/node/Dockerfile"),
        image: "nexus/node:bookworm",
    },
];

/// The template called `name`. Errors: `InvalidParams` listing the names.
pub fn find(name: &str) -> Result<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
        RuntimeError::NoTemplate {
            name: name.to_string(),
            known: names.join(", "),
        }
    })
}

/// The build context of template `t`'s image: a tar archive holding its Dockerfile.
pub fn context(t: &Template) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(t.dockerfile.len() as u64);
    let packing = || RuntimeError::io(format!("packing template {}", t.name));
    b.append_data(&mut h, "Dockerfile", t.dockerfile.as_bytes())
        .map_err(packing())?;
    b.into_inner().map_err(packing())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_names_its_image_and_parses() {
        for t in TEMPLATES {
            let vars = nexus_devcontainer::config::Variables {
                local_workspace_folder: "/r".into(),
                container_workspace_folder: "/workspaces/r".into(),
                devcontainer_id: "x".into(),
            };
            let c = nexus_devcontainer::config::parse(t.name, t.devcontainer_json, &vars).expect("parses");
            assert_eq!(c.image.as_deref(), Some(t.image), "{}", t.name);
            assert_eq!(c.name.as_deref(), Some(t.name));
            if t.name != "default" {
                assert!(
                    t.dockerfile.contains(&format!("FROM {}", TEMPLATES[0].image)),
                    "{}",
                    t.name
                );
            }
        }
        assert!(find("python").is_ok());
        assert!(
            find("cobol")
                .expect_err("none")
                .to_string()
                .contains("default, python, node")
        );
    }
}
