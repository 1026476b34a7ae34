// Package callbacks delivers HR callbacks: the events the store writes to its outbox with the state
// changes they report go to each tenant's webhook endpoints, signed per Standard Webhooks, retried
// with back-off, in order per screening, over an HTTP client that only reaches public addresses.
package callbacks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Policy is what outbound callbacks may reach. The zero value is production's: https only, public
// addresses only.
type Policy struct {
	// AllowHTTP allows http:// URLs (dev and tests): callbacks travel in the clear.
	AllowHTTP bool
	// AllowPrivate allows loopback, private, link-local and unique-local addresses (dev and tests):
	// a tenant could then make screenflow call services on its own network.
	AllowPrivate bool
}

// ErrRefusedAddress means a callback URL's host is, or resolves to, an address the policy refuses.
var ErrRefusedAddress = errors.New("the address is loopback, private, link-local or otherwise not public")

// maxURLBytes is as long as an endpoint URL may be.
const maxURLBytes = 2048

// CheckURL validates an endpoint URL when it is registered: absolute, https (or http when
// allowed), no credentials, and a host whose every address is allowed. It resolves the host, so a
// name that points inside is refused too; the dialer checks again at each connection, since DNS
// may answer differently later.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	if len(raw) > maxURLBytes {
		return fmt.Errorf("must be at most %d characters", maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL such as https://hr.example.com/screenflow")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	default:
		return errors.New("must be an https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; callbacks are signed instead")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	if p.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(ip)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("host %q does not resolve", host)
	}
	for _, ip := range addrs {
		if p.checkAddr(ip) != nil {
			// Which address is not said: the answer would map the inside of our network.
			return fmt.Errorf("host %q: %w", host, ErrRefusedAddress)
		}
	}
	return nil
}

// notPublic are ranges the standard library counts as global unicast that are not public: "this
// network" (which Linux connects to the host itself), carrier-grade NAT (RFC 6598), and NAT64
// (RFC 6052), which embeds IPv4 addresses, private ones included.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

func (p Policy) checkAddr(ip netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return fmt.Errorf("%s: %w", ip, ErrRefusedAddress)
	}
	for _, prefix := range notPublic {
		if prefix.Contains(ip) {
			return fmt.Errorf("%s: %w", ip, ErrRefusedAddress)
		}
	}
	return nil
}

// maxResponseBytes is as much of an answer's body as is read, and then discarded: only the status
// code counts.
const maxResponseBytes = 64 << 10

// Client returns the HTTP client callbacks are sent with: each connection's address is checked as
// it is dialled, after DNS resolution, so that a name resolving to an inside address (DNS
// rebinding) is refused; no proxy from the environment, which would hide the address; redirects
// are not followed, the 3xx is the answer; every request is bounded by timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			addrPort, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("callbacks: unexpected dial address %q: %w", address, err)
			}
			return p.checkAddr(addrPort.Addr())
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
