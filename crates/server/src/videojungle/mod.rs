//! The Video Jungle–compatible surface under `/videojungle` (seed 003, PRODUCT.md): projects, their
//! scripts and assets, in the shapes the official `videojungle` client parses and with FastAPI's error
//! shape. Assets are drive files; the facade holds no logic of its own that the core lacks.

pub mod assets;
pub mod error;
pub mod generate;
pub mod projects;
pub mod scripts;
pub mod upload;
pub mod views;
