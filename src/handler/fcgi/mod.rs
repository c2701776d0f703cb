//! FastCGI (mod_proxy_fcgi's role): the child, already confined as the request's identity,
//! connects to that identity's FastCGI application (a php-fpm pool) and relays one request.

pub mod record;
