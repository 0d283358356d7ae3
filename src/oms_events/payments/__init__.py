"""Payment gateways: the port the payment processor uses (:mod:`.gateway`), Alipay and
WeChat Pay behind it, and local sandboxes that speak both providers' mechanics."""
