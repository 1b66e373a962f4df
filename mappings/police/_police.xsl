<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shared by the police mappings (xsl:include): the police dialect's times,
  people and codes in canonical terms. Not a mapping itself (the leading "_"
  keeps it out of the mapping list).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:bdr="urn:om:rop:border:2020"
    exclude-result-prefixes="bdr">

  <!--
    An xs:dateTime as the police write it, as canonical UTC ("...Z").
    Without a zone it is Muscat local time (UTC+04:00, no daylight saving);
    an explicit "Z" or "+hh:mm"/"-hh:mm" is honoured. The date is recomputed
    through a day count (H. Hinnant's days_from_civil / civil_from_days), so
    month, year and leap-day roll-overs come out right. Fractions of a second
    are kept.
  -->
  <xsl:template name="utc-time">
    <xsl:param name="t"/>
    <xsl:param name="local-offset" select="'+04:00'"/>
    <xsl:variable name="v" select="normalize-space($t)"/>
    <xsl:variable name="tail" select="substring($v, 20)"/>
    <xsl:variable name="fraction" select="substring-before(concat(translate($tail, 'Z+-', '|||'), '|'), '|')"/>
    <xsl:variable name="rest" select="substring($tail, string-length($fraction) + 1)"/>
    <xsl:variable name="rest-shape" select="translate($rest, '0123456789', '0000000000')"/>
    <xsl:if test="translate(substring($v, 1, 19), '0123456789', '0000000000') != '0000-00-00T00:00:00'
                  or ($fraction != '' and (substring($fraction, 1, 1) != '.' or string-length($fraction) &lt; 2
                                           or translate(substring($fraction, 2), '0123456789', '') != ''))
                  or not($rest-shape = '' or $rest-shape = 'Z' or $rest-shape = '+00:00' or $rest-shape = '-00:00')">
      <xsl:message terminate="yes">time '<xsl:value-of select="$t"/>' is not YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm|-hh:mm]</xsl:message>
    </xsl:if>
    <xsl:variable name="zone">
      <xsl:choose>
        <xsl:when test="$rest = ''"><xsl:value-of select="$local-offset"/></xsl:when>
        <xsl:when test="$rest = 'Z'">+00:00</xsl:when>
        <xsl:otherwise><xsl:value-of select="$rest"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="zone-minutes"
        select="(1 - 2 * (substring($zone, 1, 1) = '-')) * (substring($zone, 2, 2) * 60 + substring($zone, 5, 2))"/>
    <xsl:variable name="utc-minutes" select="substring($v, 12, 2) * 60 + substring($v, 15, 2) - $zone-minutes"/>
    <xsl:variable name="day-shift" select="floor($utc-minutes div 1440)"/>
    <xsl:variable name="minute-of-day" select="$utc-minutes - 1440 * $day-shift"/>
    <!-- days_from_civil(y, m, d) + day-shift -->
    <xsl:variable name="m" select="number(substring($v, 6, 2))"/>
    <xsl:variable name="y0" select="substring($v, 1, 4) - ($m &lt;= 2)"/>
    <xsl:variable name="era0" select="floor($y0 div 400)"/>
    <xsl:variable name="yoe0" select="$y0 - $era0 * 400"/>
    <xsl:variable name="doy0" select="floor((153 * (($m + 9) mod 12) + 2) div 5) + substring($v, 9, 2) - 1"/>
    <xsl:variable name="days"
        select="$era0 * 146097 + $yoe0 * 365 + floor($yoe0 div 4) - floor($yoe0 div 100) + $doy0 - 719468 + $day-shift"/>
    <!-- civil_from_days(days) -->
    <xsl:variable name="z" select="$days + 719468"/>
    <xsl:variable name="era" select="floor($z div 146097)"/>
    <xsl:variable name="doe" select="$z - $era * 146097"/>
    <xsl:variable name="yoe"
        select="floor(($doe - floor($doe div 1460) + floor($doe div 36524) - floor($doe div 146096)) div 365)"/>
    <xsl:variable name="doy" select="$doe - (365 * $yoe + floor($yoe div 4) - floor($yoe div 100))"/>
    <xsl:variable name="mp" select="floor((5 * $doy + 2) div 153)"/>
    <xsl:variable name="month" select="$mp + 3 - 12 * ($mp &gt;= 10)"/>
    <xsl:value-of select="concat(format-number($yoe + $era * 400 + ($month &lt;= 2), '0000'), '-',
                                 format-number($month, '00'), '-',
                                 format-number($doy - floor((153 * $mp + 2) div 5) + 1, '00'), 'T',
                                 format-number(floor($minute-of-day div 60), '00'), ':',
                                 format-number($minute-of-day mod 60, '00'), ':',
                                 substring($v, 18, 2), $fraction, 'Z')"/>
  </xsl:template>

  <!-- GenderCode M/F → canonical male/female. -->
  <xsl:template name="gender">
    <xsl:param name="code"/>
    <xsl:choose>
      <xsl:when test="$code = 'M'">male</xsl:when>
      <xsl:when test="$code = 'F'">female</xsl:when>
      <xsl:otherwise>
        <xsl:message terminate="yes">GenderCode '<xsl:value-of select="$code"/>' is neither M nor F</xsl:message>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- PortType A/S/L → canonical airport/seaport/land. -->
  <xsl:template name="port-kind">
    <xsl:param name="code"/>
    <xsl:choose>
      <xsl:when test="$code = 'A'">airport</xsl:when>
      <xsl:when test="$code = 'S'">seaport</xsl:when>
      <xsl:when test="$code = 'L'">land</xsl:when>
      <xsl:otherwise>
        <xsl:message terminate="yes">PortType '<xsl:value-of select="$code"/>' is not A, S or L</xsl:message>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The licence type is printed in the licence number: PL-... private, CL-... commercial. -->
  <xsl:template name="licence-type">
    <xsl:param name="number"/>
    <xsl:choose>
      <xsl:when test="starts-with($number, 'PL-')">private</xsl:when>
      <xsl:when test="starts-with($number, 'CL-')">commercial</xsl:when>
      <xsl:otherwise>
        <xsl:message terminate="yes">LicenceNo '<xsl:value-of select="$number"/>' is not a labour licence number (PL-... private or CL-... commercial)</xsl:message>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!--
    A canonical Person. An expatriate's resident card number is his civil
    number, so a traveller with a card is identified by both; one without
    (a first arrival) by the passport alone. Names: English always, Arabic
    when the police have it.
  -->
  <xsl:template name="person">
    <xsl:param name="card"/>
    <xsl:param name="passport"/>
    <xsl:param name="name-en"/>
    <xsl:param name="name-ar"/>
    <xsl:param name="nationality"/>
    <xsl:param name="birth"/>
    <xsl:param name="gender"/>
    <xsl:if test="normalize-space($card) != ''">
      <rabt:CivilNumber><xsl:value-of select="normalize-space($card)"/></rabt:CivilNumber>
    </xsl:if>
    <rabt:PassportNumber><xsl:value-of select="normalize-space($passport)"/></rabt:PassportNumber>
    <rabt:Name xml:lang="en"><xsl:value-of select="normalize-space($name-en)"/></rabt:Name>
    <xsl:if test="normalize-space($name-ar) != ''">
      <rabt:Name xml:lang="ar"><xsl:value-of select="normalize-space($name-ar)"/></rabt:Name>
    </xsl:if>
    <rabt:Nationality><xsl:value-of select="normalize-space($nationality)"/></rabt:Nationality>
    <xsl:if test="normalize-space($birth) != ''">
      <rabt:DateOfBirth><xsl:value-of select="normalize-space($birth)"/></rabt:DateOfBirth>
    </xsl:if>
    <xsl:if test="normalize-space($gender) != ''">
      <rabt:Gender>
        <xsl:call-template name="gender"><xsl:with-param name="code" select="normalize-space($gender)"/></xsl:call-template>
      </rabt:Gender>
    </xsl:if>
  </xsl:template>

  <!-- The police's Traveller block as a canonical Person. -->
  <xsl:template name="traveller">
    <xsl:param name="traveller"/>
    <xsl:param name="card"/>
    <xsl:call-template name="person">
      <xsl:with-param name="card" select="$card"/>
      <xsl:with-param name="passport" select="$traveller/bdr:PassportNo"/>
      <xsl:with-param name="name-en" select="$traveller/bdr:FullNameEn"/>
      <xsl:with-param name="name-ar" select="$traveller/bdr:FullNameAr"/>
      <xsl:with-param name="nationality" select="$traveller/bdr:NationalityCode"/>
      <xsl:with-param name="birth" select="$traveller/bdr:BirthDate"/>
      <xsl:with-param name="gender" select="$traveller/bdr:GenderCode"/>
    </xsl:call-template>
  </xsl:template>

  <!-- The passport presented: the police record its nationality, which is the issuing state. -->
  <xsl:template name="passport">
    <xsl:param name="traveller"/>
    <rabt:Passport>
      <rabt:Number><xsl:value-of select="normalize-space($traveller/bdr:PassportNo)"/></rabt:Number>
      <rabt:IssuingCountry><xsl:value-of select="normalize-space($traveller/bdr:NationalityCode)"/></rabt:IssuingCountry>
      <rabt:ExpiryDate><xsl:value-of select="normalize-space($traveller/bdr:PassportExpiry)"/></rabt:ExpiryDate>
    </rabt:Passport>
  </xsl:template>

  <!-- A police Port block (PortCode, PortType, PortNameEn) as a canonical BorderPort named $tag. -->
  <xsl:template name="port">
    <xsl:param name="port"/>
    <xsl:param name="tag"/>
    <xsl:element name="rabt:{$tag}" namespace="urn:rabt:canonical:v1">
      <rabt:Code><xsl:value-of select="normalize-space($port/bdr:PortCode)"/></rabt:Code>
      <rabt:Kind>
        <xsl:call-template name="port-kind">
          <xsl:with-param name="code" select="normalize-space($port/bdr:PortType)"/>
        </xsl:call-template>
      </rabt:Kind>
      <xsl:if test="normalize-space($port/bdr:PortNameEn) != ''">
        <rabt:Name xml:lang="en"><xsl:value-of select="normalize-space($port/bdr:PortNameEn)"/></rabt:Name>
      </xsl:if>
    </xsl:element>
  </xsl:template>

  <!-- Flight numbers as the police key them ("wy 204") in the IATA form ("WY204"). -->
  <xsl:template name="flight">
    <xsl:param name="number"/>
    <xsl:if test="normalize-space($number) != ''">
      <rabt:FlightNumber>
        <xsl:value-of select="translate(normalize-space($number), 'abcdefghijklmnopqrstuvwxyz ', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
      </rabt:FlightNumber>
    </xsl:if>
  </xsl:template>
</xsl:stylesheet>
