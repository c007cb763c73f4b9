//! Registering a handler once both routes it and documents it.
//!
//! A handler carries `#[utoipa::path(...)]` (what it answers: tag, parameters, body,
//! responses, security) and an actix route macro such as `#[get("/cards/{id}")]` (its
//! method and path, written once, relative to its scope). A module's `routes` then lists
//! it with `cfg.service(handler)`: `utoipa_actix_web` mounts it and adds its operation to
//! the OpenAPI document under the scope's prefix. There is no other list of handlers.
//!
//! An actix route macro makes a resource of its own, guarded by its method: a request
//! with another method goes on to the next resource and, if none matches, is a 404. Where
//! one path answers several methods and any other is a 405, or where a path has its own
//! configuration (a larger body limit), [`Resource`] makes the one resource instead, from
//! the handlers' `#[utoipa::path(method, path = "...")]`: the path and methods are still
//! written once, in the annotation.
//!
//! The route macro turns the handler into a unit struct of the same name, so that name
//! cannot also be a local binding in its module (`let slots = ...` would then be a pattern
//! of that struct). A handler in that case is registered with [`route`]: the same guarded
//! resource the macro makes, from its `#[utoipa::path(method, path = "...")]`.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, guard, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::schema::Schema;
use utoipa_actix_web::OpenApiFactory;

/// One actix resource answering the methods of one or more documented handlers; any other
/// method is answered 405, as with `web::resource(...).route(...)`.
///
/// `doc` is the type `#[utoipa::path]` generates next to a handler `f`, named `__path_f`
/// (the name utoipa's own `#[openapi(paths(f))]` uses).
pub struct Resource {
    path: String,
    /// Guarded by its methods, so that other methods go on to the next resource.
    guarded: Vec<Method>,
    resource: actix_web::Resource,
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Resource {
    /// The resource at `doc`'s path, answering `doc`'s methods with `handler`.
    pub fn of<D, F, Args>(doc: D, handler: F) -> Self
    where
        D: utoipa::Path + OpenApiFactory,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = D::path();
        Self {
            resource: web::resource(path.clone()),
            path,
            guarded: Vec::new(),
            paths: Paths::new(),
            schemas: Vec::new(),
        }
        .and(doc, handler)
    }

    /// Also answers `doc`'s methods with `handler`; `doc` must document the same path.
    pub fn and<D, F, Args>(mut self, doc: D, handler: F) -> Self
    where
        D: utoipa::Path + OpenApiFactory,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        assert_eq!(
            D::path(),
            self.path,
            "the handlers of one resource document one path"
        );
        for method in D::methods() {
            self.resource = self
                .resource
                .route(web::method(actix_method(&method)).to(handler.clone()));
        }
        self.paths.merge(doc.paths());
        doc.schemas(&mut self.schemas);
        self
    }

    /// Data for this resource's handlers only (`web::PayloadConfig`, say).
    pub fn app_data<U: 'static>(mut self, data: U) -> Self {
        self.resource = self.resource.app_data(data);
        self
    }
}

/// What an actix route macro would make of `handler`: a resource at `doc`'s path, guarded
/// by `doc`'s methods (another method goes on to the next resource), documented by `doc`.
pub fn route<D, F, Args>(doc: D, handler: F) -> Resource
where
    D: utoipa::Path + OpenApiFactory,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let mut resource = Resource::of(doc, handler);
    resource.guarded = D::methods().iter().map(actix_method).collect();
    resource
}

fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

impl HttpServiceFactory for Resource {
    fn register(self, config: &mut AppService) {
        let mut resource = self.resource;
        if let Some((first, rest)) = self.guarded.split_first() {
            let any = rest
                .iter()
                .fold(guard::Any(guard::Method(first.clone())), |any, m| {
                    any.or(guard::Method(m.clone()))
                });
            resource = resource.guard(any);
        }
        resource.register(config);
    }
}

impl OpenApiFactory for Resource {
    fn paths(&self) -> Paths {
        self.paths.clone()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(self.schemas.iter().cloned());
    }
}
