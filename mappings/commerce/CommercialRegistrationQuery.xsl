<?xml version="1.0" encoding="UTF-8"?>
<!-- Licensing's canonical CommercialRegistrationQuery → the commercial registry's cr:GetCommercialRegistration. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:cr="urn:om:moci:cr:v2"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:CommercialRegistrationQuery">
    <cr:GetCommercialRegistration>
      <cr:CRNumber><xsl:value-of select="normalize-space(rabt:CRNumber)"/></cr:CRNumber>
    </cr:GetCommercialRegistration>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical CommercialRegistrationQuery, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
