//! The publication API of a running server, as the black-box tests drive it: uploads, checks,
//! processings, statics and configurations, with the token the server generated.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::unused_self,
    clippy::needless_pass_by_value
)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{agent, Server};

/// The API of a running server, with its generated token.
pub struct Api<'a> {
    pub server: &'a Server,
    pub token: String,
}

pub const DS: &str = "/api/datastores/default";

impl<'a> Api<'a> {
    pub fn new(server: &'a Server, data: &Path) -> Api<'a> {
        let token = std::fs::read_to_string(data.join("api-token"))
            .unwrap()
            .trim()
            .to_owned();
        Api { server, token }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let url = self.server.url(path);
        let auth = format!("Bearer {}", self.token);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", &auth)
            .header("Content-Type", content_type)
            .body(body)
            .unwrap();
        let mut response = agent().run(request).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            "POST",
            &format!("{DS}{path}"),
            "application/json",
            serde_json::to_vec(body).unwrap(),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            "PUT",
            &format!("{DS}{path}"),
            "application/json",
            serde_json::to_vec(body).unwrap(),
        )
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.send(
            "GET",
            &format!("{DS}{path}"),
            "application/json",
            Vec::new(),
        )
    }

    pub fn delete(&self, path: &str) -> u16 {
        self.send(
            "DELETE",
            &format!("{DS}{path}"),
            "application/json",
            Vec::new(),
        )
        .0
    }

    pub fn ok(&self, (status, value): (u16, Value), expected: u16) -> Value {
        assert_eq!(status, expected, "{value:#}");
        value
    }

    /// Uploads files, closes, waits for the checks: the final upload.
    pub fn upload(&self, kind: &str, srs: &str, files: &[(&str, &Path)]) -> Value {
        let upload = self.ok(
            self.post(
                "/uploads",
                &json!({"name": "test", "description": "d", "type": kind, "srs": srs}),
            ),
            201,
        );
        let id = upload["_id"].as_str().unwrap().to_owned();
        for (name, path) in files {
            let bytes = std::fs::read(path).unwrap();
            let (status, body) = if Path::new(name).extension().is_some_and(|e| e == "zip") {
                // As the Entrepôt's SDK sends it: one multipart file part, the path from its
                // file name.
                let boundary = "XtuilerieUploadX";
                let mut multipart = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/zip\r\n\r\n").into_bytes();
                multipart.extend(&bytes);
                multipart.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
                self.send(
                    "POST",
                    &format!("{DS}/uploads/{id}/data"),
                    &format!("multipart/form-data; boundary={boundary}"),
                    multipart,
                )
            } else {
                self.send(
                    "POST",
                    &format!("{DS}/uploads/{id}/data?path={name}"),
                    "application/octet-stream",
                    bytes,
                )
            };
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["size"], std::fs::metadata(path).unwrap().len());
        }
        self.ok(self.post(&format!("/uploads/{id}/close"), &json!({})), 200);
        self.wait(&format!("/uploads/{id}"), &["CLOSED", "UNSTABLE"])
    }

    /// Polls a resource until its status is one of `done`.
    pub fn wait(&self, path: &str, done: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            let value = self.ok(self.get(path), 200);
            if done.contains(&value["status"].as_str().unwrap_or("")) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{path} still {}",
                value["status"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates and launches a processing execution on an upload; its id.
    pub fn launch(&self, processing: &str, upload: &str, parameters: Value) -> String {
        let execution = self.ok(
            self.post(
                "/processings/executions",
                &json!({"processing": processing, "inputs": {"upload": [upload]}, "output": {"stored_data": {"name": "data"}}, "parameters": parameters}),
            ),
            201,
        );
        let id = execution["_id"].as_str().unwrap().to_owned();
        self.ok(
            self.post(&format!("/processings/executions/{id}/launch"), &json!({})),
            200,
        );
        id
    }

    /// A pyramid of the committed RGB GeoTIFF down to level 15 (long enough for a test to kill
    /// its server mid-generation), launched and seen started; the execution's id.
    pub fn launch_long_pyramid(&self, tif: &Path) -> String {
        let upload = self.upload("RASTER", "EPSG:4326", &[("rgb.tif", tif)]);
        let id = self.launch(
            "generation-pyramid-raster",
            &id(&upload),
            json!({"tms": "PM", "bottom_level": "15", "top_level": "5", "compression": "png"}),
        );
        self.wait(
            &format!("/processings/executions/{id}"),
            &["PROGRESS", "SUCCESS", "FAILURE"],
        );
        id
    }

    /// Waits for the pyramid of [`Api::launch_long_pyramid`] to end, checks it ended whole
    /// (SUCCESS, its stored data GENERATED with its 11 levels), and answers its logs.
    pub fn finished_long_pyramid(&self, execution_id: &str) -> String {
        let execution = self.wait(
            &format!("/processings/executions/{execution_id}"),
            &["SUCCESS", "FAILURE"],
        );
        assert_eq!(execution["status"], "SUCCESS", "{execution:#}");
        let stored = self.ok(
            self.get(&format!(
                "/stored_data/{}",
                execution["output"]["stored_data"]["_id"].as_str().unwrap()
            )),
            200,
        );
        assert_eq!(stored["status"], "GENERATED");
        assert_eq!(stored["type_infos"]["levels"].as_array().unwrap().len(), 11);
        self.ok(
            self.get(&format!("/processings/executions/{execution_id}/logs")),
            200,
        )
        .to_string()
    }

    /// Runs a processing on an upload: (execution, stored data).
    pub fn process(&self, processing: &str, upload: &str, parameters: Value) -> (Value, Value) {
        let id = self.launch(processing, upload, parameters);
        let execution = self.wait(
            &format!("/processings/executions/{id}"),
            &["SUCCESS", "FAILURE"],
        );
        let stored = execution["output"]["stored_data"]["_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let stored = self.ok(self.get(&format!("/stored_data/{stored}")), 200);
        (execution, stored)
    }

    pub fn style(&self, name: &str, sld: &str) -> (u16, Value) {
        let boundary = "XtuilerieBoundaryX";
        let mut body = Vec::new();
        for (field, value) in [
            ("name", name),
            ("type", "GEOSERVER-STYLE"),
            ("description", "a style"),
        ] {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"style.sld\"\r\nContent-Type: application/xml\r\n\r\n").as_bytes());
        body.extend(sld.as_bytes());
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send(
            "POST",
            &format!("{DS}/statics"),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
    }
}

/// The communes published as an open WMS-VECTOR layer `communes` in red, with a blue
/// style ready for a restyle: [`Api::publish_red_blue_communes`].
pub struct RedBlueCommunes {
    pub stored: String,
    pub config: String,
    pub offering: String,
    pub red_style: String,
    pub blue_style: String,
}

impl Api<'_> {
    /// Uploads `communes_2154.gpkg`, integrates it, adds the `communes.sld` style (red) and a
    /// blue copy of it, and publishes the layer `communes` in red.
    pub fn publish_red_blue_communes(&self, gpkg: &Path, sld: &Path) -> RedBlueCommunes {
        let upload = self.upload("VECTOR", "EPSG:2154", &[("communes.gpkg", gpkg)]);
        let (_, stored) = self.process("integration-vector-db", &id(&upload), json!({}));
        let sld = std::fs::read_to_string(sld).unwrap();
        let red_style = id(&self.ok(self.style("red", &sld), 201));
        let blue_style = id(&self.ok(self.style("blue", &sld.replace("#E41A1C", "#0000FF")), 201));
        let config = self.ok(
            self.post(
                "/configurations",
                &wms_vector("communes", &id(&stored), "communes_idf", &red_style),
            ),
            201,
        );
        let offering = self.ok(
            self.post(
                &format!("/configurations/{}/offerings", id(&config)),
                &json!({"endpoint": "wms-vector", "open": true}),
            ),
            201,
        );
        RedBlueCommunes {
            stored: id(&stored),
            config: id(&config),
            offering: id(&offering),
            red_style,
            blue_style,
        }
    }
}

pub fn id(value: &Value) -> String {
    value["_id"].as_str().unwrap().to_owned()
}

pub fn wms_vector(layer: &str, stored: &str, table: &str, style: &str) -> Value {
    json!({
        "type": "WMS-VECTOR",
        "name": format!("{layer} config"),
        "layer_name": layer,
        "type_infos": {
            "title": "Communes d'Île-de-France",
            "abstract": "Les communes",
            "keywords": ["communes", "IDF"],
            "used_data": [{"stored_data": stored, "relations": [{"name": table, "style": style}]}]
        },
        "metadata": [{"format": "application/xml", "url": "https://example.org/metadata/communes.xml"}],
        "attribution": {"title": "IGN", "url": "https://www.ign.fr"}
    })
}
